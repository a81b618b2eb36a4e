-- Delivery workers that are alive: each process running the delivery engine writes its lease
-- owner name here once per poll interval, with the time until which it is to be taken for
-- alive (ten of its own poll intervals ahead). The leases of a worker past that time are let
-- go long before they would run out, so that another process sends what a dead one had in
-- hand.
CREATE TABLE workers (
    owner TEXT PRIMARY KEY,
    alive_until INTEGER NOT NULL
);
