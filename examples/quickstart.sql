-- The quickstart's tables (policies/events.toml manages them).
CREATE TABLE public.events (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    created_at timestamptz NOT NULL,
    payload    text
) PARTITION BY RANGE (created_at);
-- A catch-all that already holds rows: partctl moves them into the partitions it creates.
CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;
INSERT INTO public.events (created_at, payload)
SELECT now() - interval '1 day' + i * interval '1 hour', 'event ' || i
FROM generate_series(0, 95) AS i;

CREATE TABLE public.invoices (
    id        integer NOT NULL,
    issued_on date NOT NULL,
    amount    numeric(12, 2)
) PARTITION BY RANGE (issued_on);

CREATE TABLE public.orders (
    id   bigint PRIMARY KEY,
    note text
) PARTITION BY RANGE (id);
