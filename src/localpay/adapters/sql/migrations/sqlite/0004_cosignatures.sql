-- Witnesses' cosignatures (C2SP tlog-cosignature, cosignature/v1) of the city's
-- checkpoints: one line per witness and checkpoint, checked against the on-chain
-- witness keys before it is stored. `size` is the checkpoint's tree size (the log
-- size of the block that carries it).
CREATE TABLE cosignatures (
    city         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    witness_key  TEXT    NOT NULL,   -- hex Ed25519 public key, as in the witness set
    line         TEXT    NOT NULL,   -- the signature line, '— name base64', no newline
    timestamp    INTEGER NOT NULL,   -- seconds since the epoch, from the cosignature
    PRIMARY KEY (city, size, witness_key)
) WITHOUT ROWID;
