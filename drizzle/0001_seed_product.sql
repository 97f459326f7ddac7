-- Seed product of the reference (migration 20230917162549): product 1 = 'Application'.
-- The reference wrote the timestamp without a zone (read in the session time zone); it is pinned to UTC here.
INSERT INTO "product" ("id", "obj_id", "obj_type", "created_at", "updated_at")
VALUES (1, 1, 'Application', '2023-09-17 10:30:02.579+00', '2023-09-17 10:30:02.579+00')
ON CONFLICT DO NOTHING;
