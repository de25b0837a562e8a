-- What a transaction's readers may see beyond its leaf, kept beside it and never in
-- it (docs/transparency.md, "Balances and rejections"). Both are JSON, written with
-- the transaction; NULL where the writer did not know them (rows written before this
-- migration, imported chains, a witness's copy).
--
-- parties: the accounts whose histories list it (a rejection: its sender's only);
--          NULL: the history index derives them from the envelope and the state.
-- balances: [[account, balance after]] of the account that sent it, shown to that
--           account alone; NULL: none recorded.
ALTER TABLE txs ADD COLUMN parties  BLOB;
ALTER TABLE txs ADD COLUMN balances BLOB;
