"""A tiny raw-socket DICOM requestor, for checking the rogue peers themselves.

It writes exactly the bytes it is told to and reports exactly what came
back, so each misbehaviour can be verified on the wire without any of the
scanner's code in the way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from types import TracebackType

from pydicom.dataset import Dataset

from tests.rogue import wire
from tests.rogue.behaviours import MessageAssembler

VERIFICATION = "1.2.840.10008.1.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
MODALITY_WORKLIST = wire.MODALITY_WORKLIST_FIND
SECONDARY_CAPTURE = wire.SECONDARY_CAPTURE


class Closed(Exception):
    """The rogue closed the connection; ``received`` holds what came before."""

    def __init__(self, received: bytes) -> None:
        super().__init__(f"connection closed after {len(received)} bytes")
        self.received = received


class RawClient:
    """One TCP connection to a rogue on loopback."""

    def __init__(self, port: int, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.ac: wire.Pdu | None = None
        self._next_message_id = 1

    def __enter__(self) -> RawClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- bytes ------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_exact(self, n: int, timeout: float | None = None) -> bytes:
        """``n`` bytes; ``TimeoutError`` or :class:`Closed` otherwise."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(buf)} of {n} bytes")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise Closed(bytes(buf))
            buf += chunk
        return bytes(buf)

    def recv_some(self, timeout: float | None = None) -> bytes:
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed(b"")
        return chunk

    def silent_for(self, seconds: float) -> bool:
        """Nothing arrives, and the connection stays open, for ``seconds``."""
        try:
            self.recv_some(seconds)
        except TimeoutError:
            return True
        except (Closed, OSError):
            return False
        return False

    def closed_within(self, seconds: float) -> bytes | None:
        """Everything received until EOF, or ``None`` if still open after ``seconds``."""
        deadline = time.monotonic() + seconds
        buf = bytearray()
        while time.monotonic() < deadline:
            try:
                buf += self.recv_some(max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return None
            except (Closed, ConnectionResetError):
                return bytes(buf)
        return None

    # -- PDUs -------------------------------------------------------------------------
    def read_header(self, timeout: float | None = None) -> tuple[int, int]:
        header = self.recv_exact(wire.PDU_HEADER_LENGTH, timeout)
        return header[0], int.from_bytes(header[2:6], "big")

    def read_pdu(self, timeout: float | None = None) -> wire.Pdu:
        pdu_type, length = self.read_header(timeout)
        if length > 64 * 1024 * 1024:
            raise ValueError(f"PDU of {length} bytes: not reading that")
        return wire.Pdu(pdu_type, self.recv_exact(length, timeout))

    def request_association(
        self,
        abstract_syntaxes: Sequence[str] = (VERIFICATION,),
        transfer_syntaxes: Sequence[str] = wire.SUPPORTED_TRANSFER_SYNTAXES,
        called_aet: str = "ROGUE",
        max_pdu: int = wire.DEFAULT_MAX_PDU,
        user_identity: tuple[bytes, bytes] | None = None,
    ) -> wire.Pdu:
        """Send an A-ASSOCIATE-RQ (contexts 1, 3, ...) and return the first PDU that answers it.

        ``user_identity``: (username, passcode) for a User Identity sub-item, positive response requested.
        """
        self.send(
            wire.encode_associate_rq(
                called_aet, "RAWCLIENT", abstract_syntaxes, transfer_syntaxes, max_pdu, user_identity
            )
        )
        reply = self.read_pdu()
        if reply.type == wire.A_ASSOCIATE_AC_TYPE:
            self.ac = reply
        return reply

    # -- DIMSE -------------------------------------------------------------------------
    def send_request(self, context_id: int, command: Dataset, data_set: bytes | None = None) -> None:
        pdvs = [wire.encode_pdv(context_id, wire.encode_command(command), command=True, last=True)]
        if data_set is not None:
            pdvs.append(wire.encode_pdv(context_id, data_set, command=False, last=True))
        self.send(wire.encode_p_data(*pdvs))

    def c_echo(self, context_id: int = 1) -> int:
        message_id = self._message_id()
        command = Dataset()
        command.AffectedSOPClassUID = VERIFICATION
        command.CommandField = wire.CommandField.C_ECHO_RQ
        command.MessageID = message_id
        command.CommandDataSetType = wire.NO_DATA_SET
        self.send_request(context_id, command)
        return message_id

    def c_find(
        self,
        context_id: int = 1,
        model: str = PATIENT_ROOT_FIND,
        *,
        implicit_vr: bool = True,
        identifier: Dataset | None = None,
    ) -> int:
        """A C-FIND; by default a wildcard PATIENT-level query."""
        message_id = self._message_id()
        command = wire.request_command(
            wire.CommandField.C_FIND_RQ, message_id=message_id, sop_class=model, has_data_set=True
        )
        if identifier is None:
            identifier = Dataset()
            identifier.QueryRetrieveLevel = "PATIENT"
            identifier.PatientName = "*"
            identifier.PatientID = ""
            identifier.PatientBirthDate = ""
        self.send_request(context_id, command, wire.encode_dataset(identifier, implicit_vr=implicit_vr))
        return message_id

    def c_get(self, context_id: int = 1, model: str = STUDY_ROOT_GET, *, destination: str | None = None) -> int:
        """A STUDY-level C-GET (or, with ``destination``, C-MOVE) of a study nobody has."""
        message_id = self._message_id()
        field = wire.CommandField.C_MOVE_RQ if destination is not None else wire.CommandField.C_GET_RQ
        command = wire.request_command(field, message_id=message_id, sop_class=model, has_data_set=True)
        if destination is not None:
            command.MoveDestination = destination
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = "2.25.1"
        self.send_request(context_id, command, wire.encode_dataset(identifier))
        return message_id

    def c_move(self, context_id: int = 1, model: str = STUDY_ROOT_MOVE, destination: str = "NOWHERE") -> int:
        return self.c_get(context_id, model, destination=destination)

    def c_store_rsp(self, request: wire.DimseMessage, status: int) -> None:
        """Answer a C-STORE-RQ the rogue sent (a C-GET sub-operation) on its context."""
        command = wire.response_command(
            wire.CommandField.C_STORE_RSP,
            responding_to=request.message_id,
            status=status,
            sop_class=request.sop_class,
        )
        command.AffectedSOPInstanceUID = request.command.AffectedSOPInstanceUID
        self.send_request(request.context_id, command)

    def c_cancel(self, message_id: int, context_id: int = 1) -> None:
        command = Dataset()
        command.CommandField = wire.CommandField.C_CANCEL_RQ
        command.MessageIDBeingRespondedTo = message_id
        command.CommandDataSetType = wire.NO_DATA_SET
        self.send_request(context_id, command)

    def read_pdvs(self, timeout: float | None = None) -> list[wire.Pdv]:
        """The PDV items of the next PDU, which must be a P-DATA-TF."""
        pdu = self.read_pdu(timeout)
        if pdu.type != wire.P_DATA_TF_TYPE:
            raise ValueError(f"expected P-DATA-TF, got PDU type 0x{pdu.type:02X}")
        return wire.decode_pdvs(pdu.body)

    def read_message(self, timeout: float | None = None) -> wire.DimseMessage:
        """The next complete DIMSE message (command decoded, data set as bytes)."""
        assembler = MessageAssembler()
        while True:
            for pdv in self.read_pdvs(timeout):
                message = assembler.feed(pdv)
                if message is not None:
                    return message

    def release(self) -> wire.Pdu:
        self.send(wire.A_RELEASE_RQ_PDU)
        return self.read_pdu()

    def _message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id
