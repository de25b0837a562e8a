-- The public directory: what people call a shop and a neighbourhood. Off the chain (the
-- chain keeps pseudonymous ids, categories and area labels only): a shop's trading name
-- is public business information, shown in the wallet's shop list and on receipts.

CREATE TABLE directory_shops (
    city        TEXT COLLATE "C" NOT NULL,
    merchant    TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (city, merchant)
);

CREATE TABLE directory_areas (
    city        TEXT COLLATE "C" NOT NULL,
    area        TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    PRIMARY KEY (city, area)
);
