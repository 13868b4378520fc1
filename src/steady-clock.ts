/**
 * A clock for waits, deadlines, intervals and rates: milliseconds on the epoch's scale that never
 * step. It is the wall clock at the process's start plus the monotonic time since (performance
 * .timeOrigin + performance.now()). The wall clock steps: a Raspberry Pi has no real-time clock, so
 * it boots with the time it saved at shutdown, and NTP then moves it by hours or days, either way.
 * A retry planned at "wall time + 1 s" then waits the step as well. A token bucket refills nothing
 * until the wall clock is back where it was. The clock's readings are for differences and for
 * other readings of this clock. Times shown to people and stamped on readings stay the wall clock
 * (Date.now()); `toWall` turns a reading of this clock into the wall time that many milliseconds ago.
 */
export function steadyNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The wall-clock time (ms since the epoch) of `t`, a reading of steadyNow: as long ago by the wall clock as by this clock. */
export function toWall(t: number): number {
  return Date.now() - (steadyNow() - t);
}
