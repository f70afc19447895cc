-- CreateTable
CREATE TABLE "Domain" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "hostname" TEXT NOT NULL,
    "appId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "certSha256" TEXT,
    "certExpiresAt" DATETIME,
    "certIssuer" TEXT,
    CONSTRAINT "Domain_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- AlterTable (by hand, not the diff's table rebuild: a rebuild would drop a Quota column that
-- another migration adds meanwhile)
ALTER TABLE "Quota" ADD COLUMN "customDomains" INTEGER NOT NULL DEFAULT 20;

-- CreateIndex
CREATE UNIQUE INDEX "Domain_hostname_key" ON "Domain"("hostname");

-- CreateIndex
CREATE INDEX "Domain_appId_idx" ON "Domain"("appId");
