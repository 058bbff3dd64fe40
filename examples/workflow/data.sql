-- SPDX-License-Identifier: MIT
-- The workflow demo's data, generated: 10,000 users (500 technicians),
-- schedules for every technician over today +-30 days, about 25,000 orders
-- with about 50,000 tasks over the last 90 days and the next 30.
--
-- Run it right after schema.sql (it expects empty tables), in the same
-- transaction (see schema.sql). The random choices come from a fixed
-- setseed, so every load draws the same data; the dates are relative to
-- the day of the load (current_date in UTC), and so is what counts as done:
-- today's tasks that should have ended by now are completed, those that
-- should have begun are in progress. Reload (scripts/run --reload) to move
-- the demo to a new today.
--
-- Ids are fixed: users 1-10 are admins, 11-100 dispatchers, 101-600
-- technicians, 601-10000 customers.

SET TimeZone = 'UTC';
-- random() must be drawn by one process, in one order, for setseed to hold.
SET max_parallel_workers_per_gather = 0;
SET work_mem = '64MB';
DO $$ BEGIN PERFORM setseed(0.6); END $$;

-- ---- words ---------------------------------------------------------------

CREATE TEMP TABLE w_words AS
SELECT ARRAY['Ada', 'Alan', 'Amira', 'Ana', 'Ben', 'Carla', 'Chen', 'Dara',
             'David', 'Elena', 'Emil', 'Fatima', 'Felix', 'Grace', 'Hana',
             'Hugo', 'Ines', 'Ivan', 'Jana', 'Jonas', 'Kai', 'Lara', 'Leo',
             'Lina', 'Luca', 'Maya', 'Mateo', 'Mia', 'Nadia', 'Noah', 'Olga',
             'Omar', 'Paula', 'Pedro', 'Rosa', 'Sam', 'Sara', 'Tom', 'Vera',
             'Yusuf'] AS first_names,
       ARRAY['Andersen', 'Baker', 'Costa', 'Dubois', 'Eriksen', 'Fischer',
             'Garcia', 'Hansen', 'Ibrahim', 'Jensen', 'Kowalski', 'Lopez',
             'Meyer', 'Novak', 'Okafor', 'Petrov', 'Quinn', 'Rossi', 'Silva',
             'Tanaka', 'Umar', 'Varga', 'Weber', 'Xu', 'Young', 'Zimmer']
           AS last_names,
       ARRAY['north', 'south', 'east', 'west', 'central', 'harbour',
             'airport', 'hills'] AS regions,
       ARRAY['boiler', 'air conditioner', 'heat pump', 'water heater',
             'thermostat', 'ventilation', 'solar inverter', 'EV charger',
             'smart meter', 'radiator'] AS items,
       ARRAY['Main St', 'Oak Ave', 'Station Rd', 'Harbour Way', 'Mill Lane',
             'Park Rd', 'Church St', 'High St', 'Bridge St', 'Elm Grove']
           AS streets;

-- pick(arr): one element of arr, at random.
CREATE FUNCTION pg_temp.pick(arr text[]) RETURNS text
LANGUAGE sql VOLATILE AS
$$ SELECT arr[1 + floor(random() * array_length(arr, 1))::int] $$;

-- ---- users ---------------------------------------------------------------

INSERT INTO workflow.users (id, email, first_name, last_name, role, active,
                            phone, region, skills, created_at, updated_at)
SELECT id,
       lower(first_name || '.' || last_name || '.' || id) || '@example.com',
       first_name, last_name, role, active,
       '+1-555-' || lpad((floor(random() * 10000000))::int::text, 7, '0'),
       CASE WHEN role = 'technician' THEN pg_temp.pick(regions) END,
       CASE WHEN role = 'technician' THEN
           ARRAY(SELECT k FROM unnest(ARRAY['installation', 'repair',
                     'maintenance', 'inspection']) k
                 -- (u.id makes this run once per user, not once)
                 WHERE (random() < 0.6 OR k = 'repair') AND u.id > 0)
       END,
       created_at, created_at + (random() * (now() - created_at))
FROM (
	SELECT g AS id,
	       pg_temp.pick(first_names) AS first_name,
	       pg_temp.pick(last_names) AS last_name,
	       (CASE WHEN g <= 10 THEN 'admin'
	             WHEN g <= 100 THEN 'dispatcher'
	             WHEN g <= 600 THEN 'technician'
	             ELSE 'customer' END)::workflow.user_role AS role,
	       random() < CASE WHEN g <= 600 THEN 0.95 ELSE 0.92 END AS active,
	       -- (before any of the demo's orders: 120 days ago at least)
	       now() - interval '120 days' - random() * interval '3 years'
	           AS created_at,
	       regions
	FROM generate_series(1, 10000) g, w_words
) u;

-- ---- schedules -----------------------------------------------------------

-- Each technician has two days off a week (which two depends on the id),
-- takes 3% of working days as leave; a third work 10-18, the others 8-16.
-- Inactive technicians are off every day.
INSERT INTO workflow.schedule_days (technician_id, day, status, shift_start,
                                    shift_end)
SELECT id, day, status,
       CASE WHEN status = 'working' THEN shift_start END,
       CASE WHEN status = 'working' THEN shift_start + interval '8 hours' END
FROM (
	SELECT u.id, d::date AS day,
	       CASE WHEN NOT u.active THEN 'off'
	            WHEN extract(dow FROM d)::int IN (u.id % 7, (u.id + 1) % 7)
	                THEN 'off'
	            WHEN random() < 0.03 THEN 'leave'
	            ELSE 'working' END AS status,
	       CASE WHEN u.id % 3 = 0 THEN time '10:00' ELSE time '08:00' END
	           AS shift_start
	FROM workflow.users u,
	     generate_series(current_date - 30, current_date + 30,
	                     interval '1 day') d
	WHERE u.role = 'technician'
	ORDER BY u.id, d
) s;

-- Four two-hour slots per working day.
INSERT INTO workflow.schedule_slots (technician_id, day, slot, starts_at,
                                     ends_at)
SELECT d.technician_id, d.day, n,
       (d.day + d.shift_start) + (n - 1) * interval '2 hours',
       (d.day + d.shift_start) + n * interval '2 hours'
FROM workflow.schedule_days d, generate_series(1, 4) n
WHERE d.status = 'working';

-- ---- the task plan -------------------------------------------------------

-- Every task to be, before orders exist: which technician, slot, time.
CREATE TEMP TABLE w_plan (
	technician_id bigint,
	day           date,
	slot          smallint,   -- NULL: no slot (history before the window)
	start_at      timestamptz,
	kind          text,
	item          text,
	status        workflow.work_status,
	dur_min       integer,
	start_delay   interval,
	lead_time     interval    -- created this long before start_at
);

-- Booked slots in the window: 55% of slots up to today, then fewer
-- further out (20% at +30 days).
INSERT INTO w_plan (technician_id, day, slot, start_at)
SELECT technician_id, day, slot, starts_at
FROM workflow.schedule_slots
WHERE random() < CASE WHEN day <= current_date THEN 0.55
                      ELSE 0.55 - 0.35 * (day - current_date) / 30.0 END
ORDER BY technician_id, day, slot;

-- History before the window (schedules are kept for 30 days only): 10,000
-- tasks on the 60 days before it, on the technicians' working days and
-- hours, one per slot: drawn from 16,000 candidates, in the order drawn.
INSERT INTO w_plan (technician_id, day, start_at)
SELECT tech, day,
       day + CASE WHEN tech % 3 = 0 THEN time '10:00' ELSE time '08:00' END
           + slot * interval '2 hours'
FROM (
	SELECT DISTINCT ON (tech, day, slot) tech, day, slot, n
	FROM (
		SELECT n, 101 + floor(random() * 500)::int AS tech,
		       current_date - 31 - floor(random() * 60)::int AS day,
		       floor(random() * 4)::int AS slot
		FROM generate_series(1, 16000) n
	) c
	WHERE extract(dow FROM day)::int NOT IN (tech % 7, (tech + 1) % 7)
	ORDER BY tech, day, slot, n
) h
ORDER BY n
LIMIT 10000;

-- What the tasks are, how long they take, and their fate so far.
UPDATE w_plan SET
	kind = pg_temp.pick(ARRAY['installation', 'repair', 'repair', 'repair',
	    'maintenance', 'maintenance', 'inspection']),
	item = pg_temp.pick(items),
	start_delay = floor(random() * 25) * interval '1 minute',
	lead_time = interval '2 hours' + random() * interval '14 days',
	status = CASE WHEN day < current_date THEN
	                  CASE WHEN random() < 0.88 THEN 'completed'
	                       ELSE 'cancelled' END::workflow.work_status
	              WHEN random() < 0.05 THEN 'cancelled'
	              ELSE 'assigned' END
FROM w_words;
UPDATE w_plan SET dur_min = round(CASE kind WHEN 'installation' THEN 120
    WHEN 'repair' THEN 90 WHEN 'maintenance' THEN 60 ELSE 45 END
    * (0.6 + random() * 0.9))::int;

-- Today's tasks: done if they should have ended by now, in progress if
-- they should have begun.
UPDATE w_plan SET status = (CASE
	WHEN start_at + start_delay + dur_min * interval '1 minute' < now()
	    THEN 'completed'
	WHEN start_at + start_delay <= now() THEN 'in_progress'
	ELSE 'assigned' END)::workflow.work_status
WHERE day = current_date AND status = 'assigned';

-- Every task, numbered in time order: the plan, and 3,000 pending tasks
-- (not planned yet) created over the last week.
CREATE TEMP TABLE w_tasks AS
SELECT row_number() OVER (ORDER BY sort_at, technician_id, slot) AS id, *
FROM (
	SELECT technician_id, day, slot, start_at, kind, item, status, dur_min,
	       start_delay,
	       -- (tasks far ahead were booked some days ago, not in the future)
	       CASE WHEN start_at - lead_time <= now() THEN start_at - lead_time
	            ELSE now() - random() * interval '10 days' END AS created_at,
	       start_at AS sort_at
	FROM w_plan
	UNION ALL
	SELECT NULL, NULL, NULL, NULL,
	       pg_temp.pick(ARRAY['installation', 'repair', 'repair',
	           'maintenance', 'inspection']), pg_temp.pick(items),
	       'pending', NULL, NULL, c, c + interval '3 days'
	FROM (SELECT now() - random() * interval '7 days' AS c, items
	      FROM generate_series(1, 3000), w_words) p
) t;

-- ---- orders --------------------------------------------------------------

-- An order is a run of consecutive tasks (in time): a new order starts
-- with probability 1/2 at each task, so orders have 2 tasks on average.
CREATE TEMP TABLE w_order_of AS
SELECT id AS task_id,
       sum(new_order) OVER (ORDER BY id) AS order_id
FROM (
	SELECT id, CASE WHEN id = 1 OR random() < 0.5 THEN 1 ELSE 0 END
	    AS new_order
	FROM w_tasks ORDER BY id
) s;

-- The tasks' own timestamps.
CREATE TEMP TABLE w_task_rows AS
SELECT t.id, o.order_id, t.technician_id, t.day, t.slot, t.kind, t.item,
       t.status, t.dur_min, t.start_at AS scheduled_start, t.created_at,
       CASE WHEN t.technician_id IS NOT NULL THEN
           t.created_at
           + (least(t.start_at, now()) - t.created_at) * random() * 0.5
       END AS assigned_at,
       CASE WHEN t.status IN ('in_progress', 'completed') THEN
           t.start_at + t.start_delay
       END AS started_at,
       CASE WHEN t.status = 'completed' THEN
           t.start_at + t.start_delay + t.dur_min * interval '1 minute'
       END AS completed_at,
       CASE WHEN t.status = 'cancelled' THEN
           t.created_at + (least(t.start_at, now()) - t.created_at) * random()
       END AS cancelled_at
FROM w_tasks t JOIN w_order_of o ON o.task_id = t.id;

INSERT INTO workflow.orders (id, customer_id, status, priority, title,
                             address, created_at, updated_at)
SELECT o.order_id,
       601 + floor(random() * 9400)::int,
       CASE WHEN o.n_cancelled = o.n THEN 'cancelled'
            WHEN o.n_completed + o.n_cancelled = o.n THEN 'completed'
            WHEN o.n_in_progress > 0 OR o.n_completed > 0 THEN 'in_progress'
            WHEN o.n_pending > 0 THEN 'pending'
            ELSE 'assigned' END::workflow.work_status,
       pg_temp.pick(ARRAY['low', 'normal', 'normal', 'normal', 'high',
                          'urgent']),
       initcap(o.first_kind) || ': ' || o.first_item,
       (1 + floor(random() * 250))::int || ' ' || pg_temp.pick(w.streets),
       o.created_at, o.updated_at
FROM (
	SELECT order_id, count(*) AS n,
	       count(*) FILTER (WHERE status = 'cancelled') AS n_cancelled,
	       count(*) FILTER (WHERE status = 'completed') AS n_completed,
	       count(*) FILTER (WHERE status = 'in_progress') AS n_in_progress,
	       count(*) FILTER (WHERE status = 'pending') AS n_pending,
	       min(created_at) AS created_at,
	       max(greatest(created_at, assigned_at, started_at, completed_at,
	                    cancelled_at)) AS updated_at,
	       (array_agg(kind ORDER BY id))[1] AS first_kind,
	       (array_agg(item ORDER BY id))[1] AS first_item
	FROM w_task_rows GROUP BY order_id
) o, w_words w
ORDER BY o.order_id;

-- ---- tasks ---------------------------------------------------------------

INSERT INTO workflow.tasks (id, order_id, technician_id, kind, title, status,
                            estimated_minutes, scheduled_start, created_at,
                            assigned_at, started_at, completed_at,
                            cancelled_at, updated_at)
SELECT id, order_id, technician_id, kind,
       initcap(kind) || ': ' || item, status,
       CASE kind WHEN 'installation' THEN 120 WHEN 'repair' THEN 90
                 WHEN 'maintenance' THEN 60 ELSE 45 END,
       scheduled_start, created_at, assigned_at, started_at, completed_at,
       cancelled_at,
       greatest(created_at, assigned_at, started_at, completed_at,
                cancelled_at)
FROM w_task_rows
ORDER BY id;

-- Booked slots point at their tasks; cancelled tasks gave theirs back.
UPDATE workflow.schedule_slots s SET task_id = t.id
FROM w_task_rows t
WHERE t.slot IS NOT NULL AND t.status <> 'cancelled'
  AND s.technician_id = t.technician_id AND s.day = t.day AND s.slot = t.slot;

-- ---- bookkeeping ---------------------------------------------------------

DO $$
BEGIN
	PERFORM setval(pg_get_serial_sequence('workflow.users', 'id'),
	               (SELECT max(id) FROM workflow.users));
	PERFORM setval(pg_get_serial_sequence('workflow.orders', 'id'),
	               (SELECT max(id) FROM workflow.orders));
	PERFORM setval(pg_get_serial_sequence('workflow.tasks', 'id'),
	               (SELECT max(id) FROM workflow.tasks));
END
$$;

REFRESH MATERIALIZED VIEW workflow.technician_daily_stats;

ANALYZE workflow.users, workflow.schedule_days, workflow.schedule_slots,
        workflow.orders, workflow.tasks, workflow.technician_daily_stats;

INSERT INTO workflow.demo_info (loaded_at, today, seed)
VALUES (now(), current_date, 0.6);
