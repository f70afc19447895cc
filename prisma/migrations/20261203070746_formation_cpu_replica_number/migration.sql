-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Container" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "appId" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "hostId" TEXT NOT NULL,
    "processType" TEXT NOT NULL,
    "number" INTEGER NOT NULL DEFAULT 0,
    "runtimeId" TEXT,
    "state" TEXT NOT NULL DEFAULT 'starting',
    "address" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "stoppedAt" DATETIME,
    CONSTRAINT "Container_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Container_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Container_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Container" ("address", "appId", "createdAt", "hostId", "id", "processType", "releaseId", "runtimeId", "startedAt", "state", "stoppedAt") SELECT "address", "appId", "createdAt", "hostId", "id", "processType", "releaseId", "runtimeId", "startedAt", "state", "stoppedAt" FROM "Container";
DROP TABLE "Container";
ALTER TABLE "new_Container" RENAME TO "Container";
CREATE TABLE "new_Formation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "appId" TEXT NOT NULL,
    "processType" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL DEFAULT 1,
    "memoryMb" INTEGER NOT NULL DEFAULT 256,
    "cpuMillis" INTEGER NOT NULL DEFAULT 250,
    CONSTRAINT "Formation_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Formation" ("appId", "id", "memoryMb", "processType", "quantity") SELECT "appId", "id", "memoryMb", "processType", "quantity" FROM "Formation";
DROP TABLE "Formation";
ALTER TABLE "new_Formation" RENAME TO "Formation";
CREATE UNIQUE INDEX "Formation_appId_processType_key" ON "Formation"("appId", "processType");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
