-- TOTP secrets sealed at rest under the master key (adapters/secrets.py), bound to the
-- principal's id: a copy of the store without the master key opens none of them. The
-- plaintext column of 0002 stays empty: a server with a master key seals any secret left
-- there by an older version at start-up and clears it (adapters/sql/identity.py).
ALTER TABLE principals ADD COLUMN totp_sealed BLOB;
