-- App.egress and App.egressAllow (added in place, not by redefining the table: migrations
-- made at the same time by others that redefine App keep working whatever the order).
ALTER TABLE "App" ADD COLUMN "egress" TEXT NOT NULL DEFAULT 'on';
ALTER TABLE "App" ADD COLUMN "egressAllow" TEXT NOT NULL DEFAULT '';
