-- AlterTable
ALTER TABLE "Release" ADD COLUMN "error" TEXT;

-- CreateTable
CREATE TABLE "ConfigChange" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "appId" TEXT NOT NULL,
    "set" TEXT NOT NULL DEFAULT '{}',
    "unset" TEXT NOT NULL DEFAULT '[]',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ConfigChange_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_App" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "teamId" TEXT NOT NULL,
    "deployBranch" TEXT NOT NULL DEFAULT 'main',
    "previews" BOOLEAN NOT NULL DEFAULT false,
    "buildMode" TEXT NOT NULL DEFAULT 'queue',
    "buildTimeoutSeconds" INTEGER,
    "previewOfId" TEXT,
    "previewBranch" TEXT,
    "deployFence" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "App_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "App_previewOfId_fkey" FOREIGN KEY ("previewOfId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_App" ("buildMode", "buildTimeoutSeconds", "createdAt", "deployBranch", "id", "name", "previewBranch", "previewOfId", "previews", "teamId") SELECT "buildMode", "buildTimeoutSeconds", "createdAt", "deployBranch", "id", "name", "previewBranch", "previewOfId", "previews", "teamId" FROM "App";
DROP TABLE "App";
ALTER TABLE "new_App" RENAME TO "App";
CREATE UNIQUE INDEX "App_name_key" ON "App"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
