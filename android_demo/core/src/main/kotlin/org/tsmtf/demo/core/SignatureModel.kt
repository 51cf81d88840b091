package org.tsmtf.demo.core

import java.nio.ByteBuffer

/**
 * The interpreter, seen from the core: one signature of a TFLite model. The app implements it
 * with LiteRT's `Interpreter.runSignature`; the JVM tests with recorded golden vectors.
 */
interface SignatureModel {
    /** The signature's input tensor names and shapes. */
    val inputShapes: Map<String, IntArray>

    /** The signature's output tensor names and shapes. */
    val outputShapes: Map<String, IntArray>

    /**
     * Runs the signature once. Every buffer is direct, in native byte order, positioned at 0,
     * and holds exactly one tensor; [outputs] must be filled from position 0.
     */
    fun run(inputs: Map<String, ByteBuffer>, outputs: Map<String, ByteBuffer>)
}
