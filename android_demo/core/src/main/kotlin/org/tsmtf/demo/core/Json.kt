package org.tsmtf.demo.core

/** A malformed JSON text: the message gives the character offset and what was expected. */
class JsonException(message: String) : IllegalArgumentException(message)

/**
 * A small, strict JSON reader (RFC 8259), so the core needs no library beyond the Kotlin
 * standard library. Objects become `Map<String, Any?>` (key order kept), arrays `List<Any?>`,
 * numbers `Double`, and `true`/`false`/`null` their Kotlin values.
 */
object Json {
    /** Parses [text]; throws [JsonException] on malformed input or trailing characters. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipWhitespace()
        val value = reader.readValue()
        reader.skipWhitespace()
        if (reader.position != text.length) {
            throw reader.error("end of input")
        }
        return value
    }

    private class Reader(val text: String) {
        var position = 0

        fun error(expected: String): JsonException {
            val found = if (position < text.length) "'${text[position]}'" else "end of input"
            return JsonException("Malformed JSON at offset $position: expected $expected, found $found.")
        }

        fun skipWhitespace() {
            while (position < text.length && text[position] in " \t\r\n") position++
        }

        fun readValue(): Any? {
            if (position >= text.length) throw error("a value")
            return when (text[position]) {
                '{' -> readObject()
                '[' -> readArray()
                '"' -> readString()
                't' -> readLiteral("true", true)
                'f' -> readLiteral("false", false)
                'n' -> readLiteral("null", null)
                else -> readNumber()
            }
        }

        fun readLiteral(word: String, value: Any?): Any? {
            if (!text.startsWith(word, position)) throw error("'$word'")
            position += word.length
            return value
        }

        fun readObject(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            position++ // '{'
            skipWhitespace()
            if (position < text.length && text[position] == '}') {
                position++
                return result
            }
            while (true) {
                skipWhitespace()
                if (position >= text.length || text[position] != '"') throw error("a string key")
                val key = readString()
                skipWhitespace()
                if (position >= text.length || text[position] != ':') throw error("':'")
                position++
                skipWhitespace()
                result[key] = readValue()
                skipWhitespace()
                if (position < text.length && text[position] == ',') {
                    position++
                } else if (position < text.length && text[position] == '}') {
                    position++
                    return result
                } else {
                    throw error("',' or '}'")
                }
            }
        }

        fun readArray(): List<Any?> {
            val result = ArrayList<Any?>()
            position++ // '['
            skipWhitespace()
            if (position < text.length && text[position] == ']') {
                position++
                return result
            }
            while (true) {
                skipWhitespace()
                result.add(readValue())
                skipWhitespace()
                if (position < text.length && text[position] == ',') {
                    position++
                } else if (position < text.length && text[position] == ']') {
                    position++
                    return result
                } else {
                    throw error("',' or ']'")
                }
            }
        }

        fun readString(): String {
            val builder = StringBuilder()
            position++ // opening quote
            while (true) {
                if (position >= text.length) throw error("a closing '\"'")
                val character = text[position++]
                when {
                    character == '"' -> return builder.toString()
                    character == '\\' -> {
                        if (position >= text.length) throw error("an escape character")
                        when (val escape = text[position++]) {
                            '"', '\\', '/' -> builder.append(escape)
                            'b' -> builder.append('\b')
                            'f' -> builder.append('\u000C')
                            'n' -> builder.append('\n')
                            'r' -> builder.append('\r')
                            't' -> builder.append('\t')
                            'u' -> {
                                if (position + 4 > text.length) throw error("4 hex digits")
                                val hex = text.substring(position, position + 4)
                                val code = hex.toIntOrNull(16) ?: throw error("4 hex digits")
                                builder.append(code.toChar())
                                position += 4
                            }
                            else -> {
                                position--
                                throw error("a valid escape (one of \\\" \\\\ / b f n r t u)")
                            }
                        }
                    }
                    character < ' ' -> {
                        position--
                        throw error("no raw control character inside a string")
                    }
                    else -> builder.append(character)
                }
            }
        }

        fun readNumber(): Double {
            val start = position
            if (position < text.length && text[position] == '-') position++
            val digitsStart = position
            while (position < text.length && text[position] in '0'..'9') position++
            if (position == digitsStart) {
                position = start
                throw error("a value")
            }
            if (position < text.length && text[position] == '.') {
                position++
                val fractionStart = position
                while (position < text.length && text[position] in '0'..'9') position++
                if (position == fractionStart) throw error("a digit after '.'")
            }
            if (position < text.length && (text[position] == 'e' || text[position] == 'E')) {
                position++
                if (position < text.length && (text[position] == '+' || text[position] == '-')) position++
                val exponentStart = position
                while (position < text.length && text[position] in '0'..'9') position++
                if (position == exponentStart) throw error("a digit in the exponent")
            }
            return text.substring(start, position).toDouble()
        }
    }
}
