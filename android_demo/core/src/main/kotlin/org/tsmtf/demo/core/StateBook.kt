package org.tsmtf.demo.core

import java.nio.ByteBuffer

/**
 * The shift caches carried from frame to frame. Each state has an input buffer (fed to the
 * model) and an output buffer (filled by it); [advance] copies every output into the input it
 * is paired with by name in model.json, [reset] sets all inputs to zero.
 */
class StateBook(private val states: List<StateSpec>) {
    /** Input buffers by input tensor name, in block order. */
    val inputs: Map<String, ByteBuffer>

    /** Output buffers by output tensor name, in block order. */
    val outputs: Map<String, ByteBuffer>

    init {
        val inputBuffers = LinkedHashMap<String, ByteBuffer>()
        val outputBuffers = LinkedHashMap<String, ByteBuffer>()
        for (state in states) {
            inputBuffers[state.input.name] = TensorBuffers.allocate(state.input)
            outputBuffers[state.output.name] = TensorBuffers.allocate(state.output)
        }
        inputs = inputBuffers
        outputs = outputBuffers
        reset()
    }

    /** Zero states (the quantized zero point when quantized): the start of a new stream. */
    fun reset() {
        for (state in states) TensorBuffers.fillZero(inputs.getValue(state.input.name), state.input)
    }

    /** Feeds each output state of the step just run back as its paired input for the next step. */
    fun advance() {
        for (state in states) {
            val source = outputs.getValue(state.output.name)
            val target = inputs.getValue(state.input.name)
            TensorBuffers.rewind(source)
            TensorBuffers.rewind(target)
            target.put(source)
            TensorBuffers.rewind(source)
            TensorBuffers.rewind(target)
        }
    }
}
