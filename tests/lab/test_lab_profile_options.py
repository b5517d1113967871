"""Profile options for worklist, retrieval and User Identity: validation, the built-in profiles, console lines."""

from __future__ import annotations

import pytest

from dicomaudit.lab import PROFILES, Access, LabProfile, describe_event


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("move_destination_check", "sometimes", "'always', 'when_matches'"),
        ("user_identity", "trust", "'ignore', 'accept', 'require'"),
        ("worklist", "everyone", "'any', 'listed', 'none'"),
        ("get", "all", "'any', 'listed', 'none'"),
    ],
)
def test_unknown_values_are_rejected_with_the_allowed_ones(field: str, value: str, allowed: str) -> None:
    """Given a profile with an unknown mode, when it is built, then ValueError names the allowed values."""
    with pytest.raises(ValueError, match=allowed):
        LabProfile(name="x", description="x", **{field: value})  # type: ignore[arg-type]


def test_plain_strings_are_coerced_and_destinations_normalised() -> None:
    """Given options as plain strings and lists (a config file), when the profile is built,
    then policies are Access members and destinations/users tuples of the right types."""
    profile = LabProfile(
        name="x",
        description="x",
        worklist="listed",
        get="none",
        move="any",
        move_destinations=[["DEST1 ", "127.0.0.1", "11113"]],  # type: ignore[list-item]
        users=[["u", "p"]],  # type: ignore[list-item]
    )
    assert (profile.worklist, profile.get, profile.move) == (Access.LISTED, Access.NONE, Access.ANY)
    assert profile.move_destinations == (("DEST1", "127.0.0.1", 11113),)
    assert profile.move_destination("DEST1") == ("127.0.0.1", 11113)
    assert profile.move_destination("dest1") is None  # AE titles are case-sensitive
    assert profile.users == (("u", "p"),)
    assert profile.user_known(b"u", b"p") and not profile.user_known(b"u", b"q")


@pytest.mark.parametrize("entry", [("DEST1", "127.0.0.1"), ("DEST1", "127.0.0.1", 70000), ("DEST1", "h", "port")])
def test_malformed_move_destinations_are_rejected(entry: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="move destination"):
        LabProfile(name="x", description="x", move_destinations=(entry,))  # type: ignore[arg-type]


def test_built_in_profiles_configure_the_new_services_as_described() -> None:
    """Given the built-in profiles, then each one's retrieval, worklist and identity settings are as documented."""
    open_, locked, stock, readonly, tls, retrieve, identity = (
        PROFILES[n] for n in ("open", "locked", "stock", "readonly", "tls", "retrieve", "identity")
    )
    assert (open_.worklist, open_.get, open_.move, open_.user_identity) == (Access.ANY,) * 3 + ("accept",)
    assert open_.move_destinations == () and open_.move_destination_check == "always"
    assert (locked.worklist, locked.get, locked.move, locked.user_identity) == (Access.LISTED,) * 3 + ("ignore",)
    assert (stock.find, stock.worklist, stock.get, stock.move) == (Access.LISTED,) * 4
    assert (stock.echo, stock.store, stock.user_identity) == (Access.ANY, Access.ANY, "ignore")
    assert (readonly.store, readonly.get, readonly.move, readonly.worklist) == (
        Access.NONE,
        Access.NONE,
        Access.ANY,
        Access.ANY,
    )
    assert (tls.worklist, tls.get, tls.move, tls.user_identity) == (Access.ANY,) * 3 + ("ignore",)
    assert (retrieve.get, retrieve.move, retrieve.find, retrieve.worklist) == (Access.ANY,) * 2 + (Access.LISTED,) * 2
    assert retrieve.registered_aets == () and retrieve.move_destination_check == "when_matches"
    assert identity.user_identity == "require" and identity.users


def test_describe_event_for_the_new_kinds() -> None:
    """Given C-MOVE, C-GET, worklist and user identity events, then the console lines say what happened."""
    who = {"calling_aet": "X", "called_aet": "Y", "peer": "127.0.0.1:1"}
    move = describe_event(
        {"kind": "C-MOVE", "outcome": "refused", "status": 0xA801, "move_destination": "EVIL", **who}
        | {"reason": "move destination unknown"}
    )
    get = describe_event(
        {"kind": "C-GET", "outcome": "success", "status": 0, "sub_operations": 5, "completed": 5, "failed": 0, **who}
    )
    worklist = describe_event(
        {"kind": "C-FIND", "outcome": "success", "status": 0, "matches": 6, "model": "1.2.840.10008.5.1.4.31", **who}
    )
    identity = describe_event({"kind": "user_identity", "outcome": "accepted", "identity_type": 2, **who})
    assert "status 0xA801, destination 'EVIL' (move destination unknown)" in move
    assert "5 sub-operation(s) (5 completed, 0 failed)" in get
    assert "6 worklist item(s)" in worklist
    assert "user identity (type 2)" in identity and "accepted" in identity
