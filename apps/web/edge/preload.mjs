// `node --import ./edge/preload.mjs`: the web server's requests carry the real client address (client-address.mjs).
import { install } from "./client-address.mjs";

install();
