package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test

class StateBookTest {
    private fun tensor(name: String, size: Int, dtype: String = "float32", quantization: Quantization? = null) =
        TensorSpec(name, intArrayOf(1, size), dtype, quantization)

    @Test
    fun feedsEachOutputToTheInputItIsPairedWithByName() {
        // Output order differs from input order, and names differ, so pairing by position fails.
        val book = StateBook(
            listOf(
                StateSpec(tensor("cache_a", 2), tensor("next_a", 2)),
                StateSpec(tensor("cache_b", 3), tensor("next_b", 3))
            )
        )
        assertEquals(listOf("next_a", "next_b"), book.outputs.keys.toList())
        val nextA = book.outputs.getValue("next_a")
        val nextB = book.outputs.getValue("next_b")
        nextA.putFloat(0, 1f).putFloat(4, 2f)
        nextB.putFloat(0, 10f).putFloat(4, 20f).putFloat(8, 30f)
        book.advance()
        val cacheA = book.inputs.getValue("cache_a")
        val cacheB = book.inputs.getValue("cache_b")
        assertEquals(listOf(1f, 2f), (0 until 2).map { cacheA.getFloat(it * 4) })
        assertEquals(listOf(10f, 20f, 30f), (0 until 3).map { cacheB.getFloat(it * 4) })
        assertEquals(0, cacheA.position())
    }

    @Test
    fun startsAndResetsAtZeroOrTheZeroPoint() {
        val quantized = Quantization(0.1f, -7)
        val book = StateBook(
            listOf(
                StateSpec(tensor("f", 2), tensor("f", 2)),
                StateSpec(tensor("q", 4, "int8", quantized), tensor("q", 4, "int8", quantized))
            )
        )
        assertEquals(listOf(-7, -7, -7, -7), (0 until 4).map { book.inputs.getValue("q").get(it).toInt() })
        book.outputs.getValue("f").putFloat(0, 5f)
        book.outputs.getValue("q").put(0, 9)
        book.advance()
        assertEquals(5f, book.inputs.getValue("f").getFloat(0), 0f)
        assertEquals(9, book.inputs.getValue("q").get(0).toInt())
        book.reset()
        assertEquals(0f, book.inputs.getValue("f").getFloat(0), 0f)
        assertEquals(-7, book.inputs.getValue("q").get(0).toInt())
    }

    @Test
    fun quantizesAndDequantizesWithScaleAndZeroPoint() {
        val spec = tensor("q", 3, "int8", Quantization(0.5f, 10))
        val buffer = TensorBuffers.allocate(spec)
        TensorBuffers.write(floatArrayOf(-100f, 1.2f, 200f), buffer, spec)
        assertEquals(listOf(-128, 12, 127), (0 until 3).map { buffer.get(it).toInt() })
        assertEquals(listOf(-69f, 1f, 58.5f), TensorBuffers.read(buffer, spec).toList())
    }
}
