// Package alert tells people what they must act on, through the `alerts`
// channels of the config (today: webhooks). The delivery loops report what
// happens (Dispatcher.DeadLettered, CircuitOpened, AuthFailed, …); the
// Dispatcher decides what is worth a message and sends it to every channel
// that wants the event.
//
// Contract:
//
//   - Once per state change, with a recovery message. A circuit that stays
//     open longer than the channel's circuit_open_for sends one "firing"
//     message and one "resolved" message when delivery works again; an
//     authentication failure sends one of each; a sync stopped by its DLQ
//     window sends one. Repeated reports of a state already alerted send
//     nothing.
//   - Dead letters are grouped per sync per group_window: the first one
//     opens a window, and when it ends one message says how many records of
//     that sync reached the DLQ and with which error codes. While records
//     keep arriving, one message per window; a whole window without any
//     sends the recovery message (a group_window of 0 sends every record at
//     once and waits 1m of quiet for the recovery).
//   - Reporting never blocks the caller: the state is updated under a lock
//     and messages are sent by one goroutine per channel, in order.
//   - A webhook call is retried with backoff (network errors, 408, 429,
//     5xx) up to a few times, each call bounded by the channel's timeout;
//     other 4xx answers are not retried. Failures are logged with the
//     channel's name, never its URL (a config.Secret: Slack webhook URLs
//     are credentials).
//
// The JSON body is a Message: "text" (what Slack incoming webhooks display;
// other receivers read the structured fields beside it).
package alert
