package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class JsonTest {
    @Test
    fun parsesNestedValues() {
        val value = Json.parse(""" { "a": [1, -2.5e2, true, false, null], "b": {"c": "x\"y\u00e9\n"} } """)
        val root = value as Map<*, *>
        assertEquals(listOf(1.0, -250.0, true, false, null), root["a"])
        assertEquals("x\"y\u00e9\n", (root["b"] as Map<*, *>)["c"])
        assertEquals(listOf("a", "b"), root.keys.toList())
    }

    @Test
    fun parsesEmptyContainersAndScalars() {
        assertEquals(emptyMap<String, Any?>(), Json.parse("{}"))
        assertEquals(emptyList<Any?>(), Json.parse("[ ]"))
        assertEquals(0.125, Json.parse("0.125"))
        assertNull(Json.parse("null"))
    }

    @Test
    fun reportsOffsetAndExpectation() {
        assertMalformed("{\"a\" 1}", "offset 5", "':'")
        assertMalformed("[1, 2", "offset 5", "',' or ']'")
        assertMalformed("[1] x", "offset 4", "end of input")
        assertMalformed("{\"a\": tru}", "offset 6", "'true'")
        assertMalformed("[1.]", "offset 3", "digit after '.'")
    }

    private fun assertMalformed(text: String, vararg fragments: String) {
        try {
            Json.parse(text)
            fail("Expected a JsonException for $text")
        } catch (error: JsonException) {
            for (fragment in fragments) {
                assertTrue("'${error.message}' should mention $fragment", error.message!!.contains(fragment))
            }
        }
    }
}
