-- Users, as API.md describes them.
--
-- Email uniqueness is case-insensitive by Unicode lower-casing (Rust's
-- str::to_lowercase), whatever the database's locale: the application stores
-- that lower-cased form in email_key and the database enforces its
-- uniqueness, so two concurrent creates can never both succeed.
CREATE TABLE users (
    id         uuid        PRIMARY KEY,
    email      text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    email_key  text        NOT NULL,
    full_name  text        CHECK (char_length(full_name) BETWEEN 1 AND 255),
    is_active  boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key_unique UNIQUE (email_key)
);

-- Keyset pagination filtered by is_active walks this index in id order.
CREATE INDEX users_is_active_id_idx ON users (is_active, id);

COMMENT ON COLUMN users.email_key IS
    'email lower-cased by the application (Rust str::to_lowercase); unique';
