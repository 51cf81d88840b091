// Frame pacing: a model trained on frames sampled at `frame_rate` per second should see the live
// stream at that rate, not at whatever rate the camera delivers.

/**
 * Decides which frames to classify. With `frameRate` null every frame is taken; otherwise a
 * frame is taken when its timestamp reaches the next due time, and due times advance by
 * 1 / frameRate (restarting from the frame taken when the source fell more than a period behind).
 */
export class FramePacer {
  constructor(frameRate) {
    if (frameRate !== null && !(frameRate > 0)) throw new RangeError(`frameRate must be positive or null, received ${frameRate}.`);
    this.frameRate = frameRate;
    this.reset();
  }

  /** Forgets the schedule: the next frame is taken. */
  reset() {
    this.nextDue = null;
  }

  /** Whether to classify the frame shown at `timestampSeconds` (increasing within a stream). */
  shouldTake(timestampSeconds) {
    if (this.frameRate === null) return true;
    const period = 1 / this.frameRate;
    // Half a millisecond of slack: camera timestamps jitter around the exact period.
    if (this.nextDue !== null && timestampSeconds < this.nextDue - 5e-4) return false;
    const late = this.nextDue === null || timestampSeconds - this.nextDue >= period;
    this.nextDue = (late ? timestampSeconds : this.nextDue) + period;
    return true;
  }
}
