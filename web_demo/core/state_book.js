// The shift caches carried from frame to frame, paired by name as model.json says.

import { zeroTensor } from "./quantization.js";

/**
 * Holds one typed array per state input. `inputs()` gives them by input tensor name;
 * `advance(outputs)` takes each state's output tensor BY NAME from a step's outputs and keeps
 * it as the paired input of the next step (never by position: the signature's order is not
 * the metadata's); `reset()` sets every state to zero (the zero point when quantized).
 */
export class StateBook {
  constructor(states) {
    this.states = states;
    this.reset();
  }

  /** Zero states: the start of a new stream. */
  reset() {
    this.values = new Map(this.states.map((state) => [state.input.name, zeroTensor(state.input)]));
  }

  /** The states to feed next, by input tensor name. */
  inputs() {
    return Object.fromEntries(this.values);
  }

  /** Keeps each output state of the step just run as its paired input for the next step. */
  advance(outputs) {
    for (const state of this.states) {
      const value = outputs[state.output.name];
      if (value === undefined) throw new Error(`The model returned no state output '${state.output.name}'.`);
      if (value.length !== state.input.size) {
        throw new Error(`State output '${state.output.name}' holds ${value.length} values, its input '${state.input.name}' takes ${state.input.size}.`);
      }
      this.values.set(state.input.name, value.slice());
    }
  }
}
