"""UDP actuator: one datagram per command, `udp://HOST:PORT?format=json|binary`.

JSON format (default; UTF-8, one object per datagram):

    {"v": 1, "seq": 12, "t": 1234.567891, "t_unix": 1732170000.123456, "kind": "action",
     "names": ["x", "y", "z", "gripper"], "action": [0.01, -0.02, 0.0, 1.0]}

Binary format (little-endian, 32 + 4 * dim bytes):

    offset  type      field
    0       4 bytes   magic b"VLA1"
    4       uint8     format version (1)
    5       uint8     kind: 0 action, 1 hold, 2 zero, 3 stop
    6       uint16    dim, the number of action values
    8       uint32    seq, command number since the run started (wraps at 2**32)
    12      uint32    reserved (0)
    16      float64   t, the sender's monotonic clock in seconds
    24      float64   t_unix, the sender's wall clock in seconds since the epoch
    32      float32[dim]  action values in the policy's physical units, in spec order

Datagrams refused by the receiver (nothing listening yet) are counted, not treated as a fault.
`decode(packet)` parses either format back into a dict (used by tests and listeners).
"""

from __future__ import annotations

import json
import socket
import struct
import time
from urllib.parse import parse_qs, urlparse

import numpy as np

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators.base import KINDS, Actuator, Command

MAGIC = b"VLA1"
HEADER = struct.Struct("<4sBBHIIdd")
FORMATS = ("json", "binary")


def encode(command: Command, fmt: str, names: list[str] | None = None) -> bytes:
    t_unix = time.time()
    if fmt == "binary":
        values = np.asarray(command.values, dtype="<f4")
        head = HEADER.pack(
            MAGIC,
            1,
            KINDS.index(command.kind),
            values.size,
            command.seq & 0xFFFFFFFF,
            0,
            command.t,
            t_unix,
        )
        return head + values.tobytes()
    names_json = None if names is None else json.dumps(names)
    return ('{"v": 1, ' + command.to_json(names_json, t_unix=t_unix)[1:]).encode()


def decode(packet: bytes) -> dict:
    """Parse a datagram in either format into {"seq", "t", "t_unix", "kind", "action", ...}."""
    if packet[:4] == MAGIC:
        magic, version, kind, dim, seq, _, t, t_unix = HEADER.unpack_from(packet)
        if len(packet) != HEADER.size + 4 * dim:
            raise ValueError(f"binary packet of {len(packet)} bytes does not hold {dim} values")
        values = np.frombuffer(packet, dtype="<f4", offset=HEADER.size, count=dim)
        return {
            "v": version,
            "seq": seq,
            "t": t,
            "t_unix": t_unix,
            "kind": KINDS[kind],
            "action": values.astype(float).tolist(),
        }
    return json.loads(packet.decode())


class UdpActuator(Actuator):
    kind = "udp"

    def __init__(
        self, host: str, port: int, fmt: str = "json", names: list[str] | None = None
    ) -> None:
        super().__init__(names)
        if fmt not in FORMATS:
            raise RuntimeLoopError(f"UDP format must be one of {FORMATS}, got {fmt!r}")
        if not 0 < port < 65536:
            raise RuntimeLoopError(f"UDP port must be 1..65535, got {port}")
        self.host, self.port, self.fmt = host, port, fmt
        self.refused = 0
        self._names_json: str | None = None
        self._sock: socket.socket | None = None

    @classmethod
    def from_uri(cls, uri: str, names: list[str] | None = None) -> UdpActuator:
        parsed = urlparse(uri)
        try:
            port = parsed.port  # urllib raises ValueError for a port that is not 0-65535
        except ValueError:
            raise RuntimeLoopError(
                f"UDP actuator port in {uri!r} must be a number from 1 to 65535, got "
                f"{parsed.netloc.rpartition(':')[2]!r}; e.g. udp://127.0.0.1:9870"
            ) from None
        if not parsed.hostname or not port:
            raise RuntimeLoopError(f"UDP actuator needs udp://HOST:PORT, got {uri!r}")
        fmt = parse_qs(parsed.query).get("format", ["json"])[0]
        return cls(parsed.hostname, port, fmt=fmt, names=names)

    def describe(self) -> str:
        return f"udp://{self.host}:{self.port} ({self.fmt})"

    def _connect(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise RuntimeLoopError(f"UDP actuator: cannot resolve {self.host!r}: {exc}") from exc
        family, _, _, _, addr = infos[0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.connect(addr)

    def _write(self, command: Command) -> None:
        try:
            self._sock.send(self._encode(command))  # type: ignore[union-attr]
        except ConnectionRefusedError:
            # An ICMP "port unreachable" from an earlier datagram: nobody listens yet. UDP is
            # fire-and-forget, so count it (reported in the summary) rather than fault.
            self.refused += 1

    def _encode(self, command: Command) -> bytes:
        if self.fmt == "binary":
            return encode(command, "binary")
        if self._names_json is None and self.names is not None:
            self._names_json = json.dumps(self.names)
        head = '{"v": 1, '
        return (head + command.to_json(self._names_json, t_unix=time.time())[1:]).encode()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
