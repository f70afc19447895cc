-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Quota" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "teamId" TEXT NOT NULL,
    "apps" INTEGER NOT NULL DEFAULT 10,
    "replicas" INTEGER NOT NULL DEFAULT 20,
    "memoryMb" INTEGER NOT NULL DEFAULT 4096,
    "cpuMillis" INTEGER NOT NULL DEFAULT 4000,
    "storageMb" INTEGER NOT NULL DEFAULT 10240,
    "concurrentBuilds" INTEGER NOT NULL DEFAULT 2,
    "customDomains" INTEGER NOT NULL DEFAULT 20,
    "buildMinutesPerDay" INTEGER NOT NULL DEFAULT 120,
    "pids" INTEGER NOT NULL DEFAULT 4096,
    "drainsPerApp" INTEGER NOT NULL DEFAULT 5,
    CONSTRAINT "Quota_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Quota" ("apps", "buildMinutesPerDay", "concurrentBuilds", "cpuMillis", "customDomains", "id", "memoryMb", "pids", "replicas", "storageMb", "teamId") SELECT "apps", "buildMinutesPerDay", "concurrentBuilds", "cpuMillis", "customDomains", "id", "memoryMb", "pids", "replicas", "storageMb", "teamId" FROM "Quota";
DROP TABLE "Quota";
ALTER TABLE "new_Quota" RENAME TO "Quota";
CREATE UNIQUE INDEX "Quota_teamId_key" ON "Quota"("teamId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
