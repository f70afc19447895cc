-- CreateTable
CREATE TABLE "Backup" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "appId" TEXT NOT NULL,
    "volume" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'running',
    "snapshot" TEXT,
    "sizeBytes" REAL,
    "addedBytes" REAL,
    "pausedMs" INTEGER,
    "error" TEXT,
    "scheduled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" DATETIME,
    CONSTRAINT "Backup_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "Backup_appId_createdAt_idx" ON "Backup"("appId", "createdAt");
