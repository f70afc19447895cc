import { Runtime } from "../src/index.ts";
const rt = new Runtime({ dataDir: "/tmp/rt-cli", bridge: "paastd0", subnet: "10.99.4.0/24", cgroupRoot: "paas-test-d" });
await rt.init();
for (const network of ["none", "bridge"] as const) {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const c = rt.create({ image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "b/a", network });
    const t = performance.now();
    await rt.start(c.id);
    times.push(performance.now() - t);
    await rt.wait(c.id);
    await rt.remove(c.id);
  }
  times.sort((a, b) => a - b);
  console.log(network, "start median ms", times[5].toFixed(1), "min", times[0].toFixed(1));
}
