// Package broker opens the NATS JetStream that holds sfbridge's queue and
// state. One type serves both modes of DESIGN.md §4:
//
//   - "embedded": nats-server runs inside this process with no TCP listener;
//     its file store lives under <data_dir>/jetstream, so messages and state
//     survive a restart of the process.
//   - "nats://host:4222[,nats://host2:4222]": a connection to an external
//     server or cluster shared by several sfbridge processes.
//
// The queue (queue/natsjs) and the state store (state/natskv) both take a
// *Broker, so one process holds one connection whatever the mode.
package broker
