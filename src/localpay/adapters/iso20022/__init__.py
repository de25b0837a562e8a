"""ISO 20022 files for settlement: pain.001.001.09 out; pain.002.001.10 and camt.053.001.08 in.

`pain001.write` builds and validates a payout file; `pain002.read` and `camt053.read`
read a bank's answers safely (no DTD, no entities, no network; the official XSD; a line
for every refusal). The XSDs are vendored in xsd/ (xsd/SOURCES.md says whence).
"""

from __future__ import annotations

from localpay.adapters.iso20022 import safe


def sniff(data: bytes) -> str:
    """The message type of a document ("pain.002.001.10", "camt.053.001.08"), from its
    namespace, read as safely as the readers read; XmlRefused for anything else."""
    return safe.message_type(safe.parse(data))
