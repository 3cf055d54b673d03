// Timings of the headless volunteer, and where they come from.

/** Tracker setup calls (health, manifest): a tracker on the other side of the world answers in < 1 s. */
export const TRACKER_TIMEOUT_MS = 15_000

/** Checkpoint the stage's weights this often while training (the app saves every 15 s, too). */
export const SAVE_EVERY_MS = 15_000

/** And after an optimizer step, at most this often (the app's MIN_SAVE_INTERVAL_MS). */
export const MIN_SAVE_INTERVAL_MS = 5_000

/** A non-TTY progress line this often (a log file gets a line per interval, not a flood). */
export const LOG_EVERY_MS = 5_000

/** The TTY progress line redraws this often. */
export const REDRAW_EVERY_MS = 500

/** A second Ctrl-C, or a leave that hangs, ends the process after this long. */
export const LEAVE_TIMEOUT_MS = 10_000
