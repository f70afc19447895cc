-- AlterTable
ALTER TABLE "Release" ADD COLUMN "checks" TEXT;
