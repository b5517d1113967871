"""Rogue DICOM peers: loopback servers that answer the scanner wrongly, late, or never.

``RogueServer(get_behaviour(name))`` is a context manager listening on
``127.0.0.1`` port 0; ``RogueFleet`` starts one server per behaviour.  The
behaviours (``behaviour_names()``) are listed with a one-line ``summary`` in
:mod:`tests.rogue.behaviours`; :mod:`tests.rogue.wire` holds the PDU and
DIMSE encoders, :mod:`tests.rogue.client` a raw requestor used to check the
rogues themselves (``tests/rogue/test_rogue_server.py``).  The scanner's
verdicts against them are asserted in ``tests/test_rogue_peers.py``.
"""

from tests.rogue.behaviours import Behaviour, all_behaviours, behaviour_names, get_behaviour
from tests.rogue.server import HOST, RogueFleet, RogueServer

__all__ = ["HOST", "Behaviour", "RogueFleet", "RogueServer", "all_behaviours", "behaviour_names", "get_behaviour"]
