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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "App_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "App_previewOfId_fkey" FOREIGN KEY ("previewOfId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_App" ("createdAt", "deployBranch", "id", "name", "teamId") SELECT "createdAt", "deployBranch", "id", "name", "teamId" FROM "App";
DROP TABLE "App";
ALTER TABLE "new_App" RENAME TO "App";
CREATE UNIQUE INDEX "App_name_key" ON "App"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
