import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBytes, formatCpus, formatMemory, parseCpuMillis, parseMemoryMb, parseScaleArgs, parseVolumeSize, SizeError } from "./sizes.ts";

test("memory sizes as Docker writes them, in whole MB, within bounds", () => {
  assert.equal(parseMemoryMb("512M"), 512);
  assert.equal(parseMemoryMb("512m"), 512);
  assert.equal(parseMemoryMb("1G"), 1024);
  assert.equal(parseMemoryMb("1.5GB"), 1536);
  assert.equal(parseMemoryMb("2Gi"), 2048);
  assert.equal(parseMemoryMb("65536K"), 64);
  assert.throws(() => parseMemoryMb("512"), /--memory 512: write a size with its unit, e.g. 512M or 1G/);
  assert.throws(() => parseMemoryMb("lots"), SizeError);
  assert.throws(() => parseMemoryMb("0.3G"), /307\.20 MB; give a whole number of MB, e\.g\. 307M/);
  assert.throws(() => parseMemoryMb("16M"), /--memory 16M: memory is at least 32M/);
  assert.throws(() => parseMemoryMb("100G"), /at most 64G/);
});

test("CPUs as docker run --cpus takes them, in millicores", () => {
  assert.equal(parseCpuMillis("0.5"), 500);
  assert.equal(parseCpuMillis("2"), 2000);
  assert.equal(parseCpuMillis("0.333"), 333);
  assert.throws(() => parseCpuMillis("half"), /--cpus half: write a number of CPUs, e\.g\. 0\.5 or 2/);
  assert.throws(() => parseCpuMillis("-1"), SizeError);
  assert.throws(() => parseCpuMillis("0.0005"), /at most 3 decimals/);
  assert.throws(() => parseCpuMillis("0.001"), /CPU is at least 0\.01/);
  assert.throws(() => parseCpuMillis("65"), /CPU is at most 64/);
});

test("sizes print as the flags take them", () => {
  assert.equal(formatMemory(256), "256M");
  assert.equal(formatMemory(1024), "1G");
  assert.equal(formatMemory(1536), "1.5G");
  assert.equal(formatMemory(1100), "1100M");
  assert.equal(formatCpus(250), "0.25");
  assert.equal(formatCpus(1000), "1");
});

test("ps:scale arguments: TYPE=N each, refused with the reason otherwise", () => {
  assert.deepEqual(parseScaleArgs(["web=3", "worker=0"]), { web: 3, worker: 0 });
  assert.throws(() => parseScaleArgs([]), /name what to scale: ps:scale web=2 worker=1/);
  assert.throws(() => parseScaleArgs(["web"]), /"web" is not TYPE=N: write e\.g\. web=2/);
  assert.throws(() => parseScaleArgs(["web=two"]), /"web=two": the count is a whole number, e\.g\. web=2/);
  assert.throws(() => parseScaleArgs(["web=-1"]), /the count is a whole number/);
  assert.throws(() => parseScaleArgs(["Web=1"]), /process types are lowercase letters/);
  assert.throws(() => parseScaleArgs(["web=1", "web=2"]), /"web" is named twice/);
  assert.throws(() => parseScaleArgs(["web=101"]), /at most 100 replicas/);
});

test("parseQuotaArgs: quotas:set names, sizes with units, CPUs, counts; bad input says what to write", async () => {
  const { parseQuotaArgs } = await import("./sizes.ts");
  assert.deepEqual(parseQuotaArgs(["apps=5", "replicas=10", "memory=4G", "cpus=4", "storage=10G", "builds=2", "build-minutes=120", "domains=20", "drains=3", "pids=512"]), {
    apps: 5,
    replicas: 10,
    memoryMb: 4096,
    cpuMillis: 4000,
    storageMb: 10240,
    concurrentBuilds: 2,
    buildMinutesPerDay: 120,
    customDomains: 20,
    drainsPerApp: 3,
    pids: 512,
  });
  assert.deepEqual(parseQuotaArgs(["memory=512M", "cpus=0.5"]), { memoryMb: 512, cpuMillis: 500 });
  assert.throws(() => parseQuotaArgs([]), /name what to set/);
  assert.throws(() => parseQuotaArgs(["ram=4G"]), /"ram" is not a quota: use apps, replicas, memory/);
  assert.throws(() => parseQuotaArgs(["memory=4"]), /write a size with its unit, e.g. memory=4G/);
  assert.throws(() => parseQuotaArgs(["apps=five"]), /a whole number, e.g. apps=5/);
  assert.throws(() => parseQuotaArgs(["apps=1", "apps=2"]), /named twice/);
  assert.throws(() => parseQuotaArgs(["cpus=0.0001"]), /at most 3 decimals/);
});

test("volume sizes: M, G and T to whole MB; no unit or a part of a MB is refused, saying what to write", () => {
  assert.equal(parseVolumeSize("64M"), 64);
  assert.equal(parseVolumeSize(" 1.5G "), 1536);
  assert.equal(parseVolumeSize("1TiB"), 1024 * 1024);
  assert.throws(() => parseVolumeSize("512"), /--size 512: write a size with its unit, e.g. 512M or 1G/);
  assert.throws(() => parseVolumeSize("1.0001G"), /give a whole number of MB/);
});

test("bytes for people: B below a KB, one decimal above; unknown is -", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(64 * 2 ** 20), "64.0 MB");
  assert.equal(formatBytes(null), "-");
});
