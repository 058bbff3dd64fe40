-- SPDX-License-Identifier: MIT
-- The database behind the conformance vectors' resources (broker.conf).
CREATE TABLE conf_users (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO conf_users
SELECT g, 'user ' || g FROM generate_series(1, 20) g;
