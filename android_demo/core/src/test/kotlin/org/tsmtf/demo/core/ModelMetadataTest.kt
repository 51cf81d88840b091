package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class ModelMetadataTest {
    @Test
    fun parsesTheContract() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        assertEquals("streaming", metadata.mode)
        assertEquals(listOf("a", "b", "c"), metadata.labels)
        assertEquals("frame", metadata.input.name)
        assertArrayEquals(intArrayOf(1, 16, 16, 3), metadata.input.shape)
        assertEquals(listOf("state_00", "state_01"), metadata.states.map { it.input.name })
        assertEquals(Preprocessing(resizeShorterSide = 18, cropSize = 16), metadata.preprocessing)
        metadata.checkSignature(TestMetadata.signatureInputs(), TestMetadata.signatureOutputs())
    }

    @Test
    fun readsQuantization() {
        val states = """{"input": "s", "output": "s", "shape": [1, 2], "dtype": "int8",
                         "quantization": {"scale": 0.5, "zero_point": -3}}"""
        val state = ModelMetadata.parse(TestMetadata.json(states = states)).states.single()
        assertEquals(Quantization(0.5f, -3), state.input.quantization)
        assertEquals(1, state.output.bytesPerElement)
    }

    @Test
    fun aStateMissingFromTheMetadataIsNamed() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        val inputs = TestMetadata.signatureInputs().apply { put("state_02", intArrayOf(1, 2, 2, 4)) }
        val outputs = TestMetadata.signatureOutputs().apply { put("state_02", intArrayOf(1, 2, 2, 4)) }
        assertMetadataError({ metadata.checkSignature(inputs, outputs) }, "'state_02'", "missing state")
    }

    @Test
    fun aStateMissingFromTheModelIsNamed() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        val outputs = TestMetadata.signatureOutputs().apply { remove("state_01") }
        assertMetadataError(
            { metadata.checkSignature(TestMetadata.signatureInputs(), outputs) },
            "output 'state_01'", "[logits, state_00]"
        )
    }

    @Test
    fun aShapeThatDoesNotMatchIsReported() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        val inputs = TestMetadata.signatureInputs().apply { put("state_01", intArrayOf(1, 4, 4, 6)) }
        assertMetadataError(
            { metadata.checkSignature(inputs, TestMetadata.signatureOutputs()) },
            "'state_01'", "[1, 4, 4, 6] in the model", "[1, 4, 4, 3] in model.json"
        )
    }

    @Test
    fun aLabelsFileReplacesTheNamesOnlyWithOnePerClass() {
        val metadata = ModelMetadata.parse(TestMetadata.json())
        assertEquals(listOf("x", "y", "z"), metadata.withLabels(listOf("x", " y", "", "z ")).labels)
        assertMetadataError({ metadata.withLabels(listOf("x", "y")) }, "2 labels", "num_classes=3")
    }

    @Test
    fun malformedMetadataGivesClearMessages() {
        assertMetadataError({ ModelMetadata.parse(TestMetadata.json(formatVersion = 2)) }, "format_version 2")
        assertMetadataError(
            { ModelMetadata.parse(TestMetadata.json(labels = """["a", "b"]""")) },
            "2 labels for num_classes=3"
        )
        assertMetadataError(
            { ModelMetadata.parse(TestMetadata.json(inputShape = "[1, 16, 12, 3]")) },
            "[1, 16, 12, 3]", "expected [1, 16, 16, 3]"
        )
        assertMetadataError(
            { ModelMetadata.parse(TestMetadata.json(states = """{"input": "s", "shape": [1, 2], "dtype": "float32"}""")) },
            "states[0] has no 'output'"
        )
        assertMetadataError(
            { ModelMetadata.parse(TestMetadata.json(states = """{"input": "s", "output": "s", "shape": [1, 0], "dtype": "float32"}""")) },
            "states[0] shape", "positive integers"
        )
        assertMetadataError(
            { ModelMetadata.parse(TestMetadata.json(states = """{"input": "s", "output": "s", "shape": [1], "dtype": "float64"}""")) },
            "dtype \"float64\""
        )
        assertMetadataError({ ModelMetadata.parse("{\"format_version\": 1,") }, "not valid JSON")
    }

    private fun assertMetadataError(action: () -> Unit, vararg fragments: String) {
        try {
            action()
            fail("Expected a MetadataException mentioning ${fragments.toList()}")
        } catch (error: MetadataException) {
            for (fragment in fragments) {
                assertTrue("'${error.message}' should mention $fragment", error.message!!.contains(fragment))
            }
        }
    }
}
