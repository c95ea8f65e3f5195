// V8 flags every role process runs with (npm start, the benches, the profiling script; the
// container sets the same through NODE_OPTIONS in compose/Dockerfile).
//
// --max-semi-space-size=64 (MiB, default 16): a request allocates its body, the reaction objects,
// the Avro record and the promises of its acknowledgement, which all die young unless a
// scavenge runs while the request waits for its ack; a small young generation scavenges every
// few ms under load and promotes those, leaving them to the old generation's costlier marking.
// Measured on single POSTs (embedded, 50 connections, 2 cores): 16.7k -> 20.9k (32) -> 22.0k
// (64) -> 22.5k (128) requests/s. Costs up to ~190 MiB more RSS per process (three semi-spaces).
export const ROLE_NODE_FLAGS = ['--max-semi-space-size=64'];
