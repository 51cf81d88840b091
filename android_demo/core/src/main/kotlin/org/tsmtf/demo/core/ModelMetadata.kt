package org.tsmtf.demo.core

/** model.json (or the model it describes) breaks the contract of docs/metadata.md. */
class MetadataException(message: String) : IllegalArgumentException(message)

/** Affine quantization of a tensor: `real = scale * (stored - zeroPoint)`. */
data class Quantization(val scale: Float, val zeroPoint: Int)

/** One tensor of the signature: its name, shape, element type and optional quantization. */
data class TensorSpec(
    val name: String,
    val shape: IntArray,
    val dtype: String,
    val quantization: Quantization?
) {
    /** Number of elements. */
    val size: Int get() = shape.fold(1) { product, dimension -> product * dimension }

    /** Bytes per element of [dtype]. */
    val bytesPerElement: Int get() = bytesPerElement(dtype, name)

    override fun equals(other: Any?): Boolean =
        other is TensorSpec && name == other.name && shape.contentEquals(other.shape) &&
            dtype == other.dtype && quantization == other.quantization

    override fun hashCode(): Int = name.hashCode() * 31 + shape.contentHashCode()
}

/** A shift cache: feed the [output] tensor of step t as the [input] tensor of step t+1. */
data class StateSpec(val input: TensorSpec, val output: TensorSpec)

/** The evaluation resize and crop rule (docs/metadata.md). */
data class Preprocessing(val resizeShorterSide: Int, val cropSize: Int)

/**
 * The exported model's contract, read from model.json (docs/metadata.md, format_version 1).
 * Clients never hard-code names or shapes: everything the app needs is here.
 */
class ModelMetadata(
    val mode: String,
    val precision: String,
    val numClasses: Int,
    val imageSize: Int,
    val labels: List<String>,
    val signatureKey: String,
    val input: TensorSpec,
    val output: TensorSpec,
    val states: List<StateSpec>,
    val preprocessing: Preprocessing,
    /** Frames per second the model expects (pick frames with [FramePacer]), or null: every frame. */
    val frameRate: Double? = null
) {
    /**
     * The same metadata with display names from a labels file (one per line, blank lines
     * ignored), for apps that ship translated or friendlier names.
     *
     * @throws MetadataException unless there is exactly one label per class.
     */
    fun withLabels(lines: List<String>): ModelMetadata {
        val names = lines.map { it.trim() }.filter { it.isNotEmpty() }
        if (names.size != numClasses) {
            throw MetadataException(
                "The labels file has ${names.size} labels, the model has num_classes=$numClasses. " +
                    "Write one label per line, in class order, or delete it to use model.json's labels."
            )
        }
        return ModelMetadata(
            mode, precision, numClasses, imageSize, names, signatureKey, input, output, states, preprocessing, frameRate
        )
    }

    /**
     * Checks the metadata against the signature the interpreter really has: every tensor named
     * here exists with the same shape, and every signature input is the frame or a state.
     *
     * @param signatureInputs the signature's input names and shapes.
     * @param signatureOutputs the signature's output names and shapes.
     * @throws MetadataException naming the first tensor that is missing or differs.
     */
    fun checkSignature(signatureInputs: Map<String, IntArray>, signatureOutputs: Map<String, IntArray>) {
        val expectedInputs = listOf(input) + states.map { it.input }
        val expectedOutputs = listOf(output) + states.map { it.output }
        checkTensors("input", expectedInputs, signatureInputs)
        checkTensors("output", expectedOutputs, signatureOutputs)
        for (name in signatureInputs.keys) {
            if (expectedInputs.none { it.name == name }) {
                throw MetadataException(
                    "The model's signature '$signatureKey' has an input '$name' that model.json " +
                        "neither names as the frame nor lists in 'states' (a missing state). " +
                        "Export model.tflite and model.json together and copy both."
                )
            }
        }
    }

    private fun checkTensors(kind: String, expected: List<TensorSpec>, actual: Map<String, IntArray>) {
        for (tensor in expected) {
            val shape = actual[tensor.name] ?: throw MetadataException(
                "model.json names $kind '${tensor.name}', but signature '$signatureKey' has " +
                    "${kind}s ${actual.keys.sorted()}. Export model.tflite and model.json together."
            )
            if (!shape.contentEquals(tensor.shape)) {
                throw MetadataException(
                    "The $kind '${tensor.name}' has shape ${shape.contentToString()} in the model but " +
                        "${tensor.shape.contentToString()} in model.json. Export model.tflite and " +
                        "model.json together."
                )
            }
        }
    }

    companion object {
        /** The only format this client reads. */
        const val FORMAT_VERSION = 1

        /** Parses the text of model.json; throws [MetadataException] saying what is wrong. */
        @JvmStatic
        fun parse(text: String): ModelMetadata {
            val root = try {
                Json.parse(text)
            } catch (error: JsonException) {
                throw MetadataException("model.json is not valid JSON: ${error.message}")
            }
            return fromJson(asObject(root, "model.json"))
        }

        /** Builds the metadata from an already parsed JSON object. */
        @JvmStatic
        fun fromJson(root: Map<String, Any?>): ModelMetadata {
            val version = int(root, "format_version", "model.json")
            if (version != FORMAT_VERSION) {
                throw MetadataException(
                    "model.json has format_version $version, this app reads format_version " +
                        "$FORMAT_VERSION. Re-export the model with a matching tsm_tf version."
                )
            }
            val numClasses = int(root, "num_classes", "model.json")
            val labels = list(root, "labels", "model.json").mapIndexed { index, label ->
                label as? String ?: throw MetadataException("model.json labels[$index] must be a string, found $label.")
            }
            if (labels.size != numClasses) {
                throw MetadataException(
                    "model.json has ${labels.size} labels for num_classes=$numClasses. Export with " +
                        "one label per class."
                )
            }
            val inputObject = asObject(root["input"], "model.json 'input'")
            val input = tensor(inputObject, "name", "model.json 'input'")
            checkInputContract(inputObject, input)
            val output = tensor(asObject(root["output"], "model.json 'output'"), "name", "model.json 'output'")
            if (output.shape.isEmpty() || output.shape[output.shape.size - 1] != numClasses) {
                throw MetadataException(
                    "model.json output '${output.name}' has shape ${output.shape.contentToString()}, " +
                        "expected the last dimension to be num_classes=$numClasses."
                )
            }
            val states = list(root, "states", "model.json").mapIndexed { index, item ->
                parseState(asObject(item, "model.json states[$index]"), "model.json states[$index]")
            }
            checkUniqueNames(input, output, states)
            val preprocessing = parsePreprocessing(asObject(root["preprocessing"], "model.json 'preprocessing'"))
            if (input.shape.size != 4 || input.shape[0] != 1 || input.shape[1] != preprocessing.cropSize ||
                input.shape[2] != preprocessing.cropSize || input.shape[3] != 3
            ) {
                throw MetadataException(
                    "model.json input '${input.name}' has shape ${input.shape.contentToString()}, " +
                        "expected [1, ${preprocessing.cropSize}, ${preprocessing.cropSize}, 3] " +
                        "(one RGB frame of crop_size)."
                )
            }
            return ModelMetadata(
                mode = string(root, "mode", "model.json"),
                precision = string(root, "precision", "model.json"),
                numClasses = numClasses,
                imageSize = int(root, "image_size", "model.json"),
                labels = labels,
                signatureKey = string(root, "signature_key", "model.json"),
                input = input,
                output = output,
                states = states,
                preprocessing = preprocessing,
                frameRate = frameRate(root)
            )
        }

        // Optional (docs/metadata.md): older files lack it, and null means every frame.
        private fun frameRate(root: Map<String, Any?>): Double? {
            val value = root["frame_rate"] ?: return null
            val rate = value as? Double
            if (rate == null || rate.isNaN() || rate <= 0.0 || rate > 1000.0) {
                throw MetadataException(
                    "model.json frame_rate is $value, expected frames per second (a positive number, " +
                        "at most 1000) or null to feed every frame."
                )
            }
            return rate
        }

        private fun checkInputContract(inputObject: Map<String, Any?>, input: TensorSpec) {
            val color = inputObject["color"]
            if (color != "RGB") {
                throw MetadataException("model.json input color is $color, this app feeds \"RGB\" frames.")
            }
            val range = inputObject["value_range"] as? List<*>
            if (range == null || range.size != 2 || (range[0] as? Double) != 0.0 || (range[1] as? Double) != 255.0) {
                throw MetadataException(
                    "model.json input value_range is $range, this app feeds pixels in [0, 255]. " +
                        "Keep normalization inside the model."
                )
            }
            bytesPerElement(input.dtype, input.name)
        }

        private fun parseState(item: Map<String, Any?>, where: String): StateSpec {
            val shape = shape(item, where)
            val dtype = string(item, "dtype", where)
            val quantization = quantization(item, where)
            bytesPerElement(dtype, "$where input")
            return StateSpec(
                input = TensorSpec(string(item, "input", where), shape, dtype, quantization),
                output = TensorSpec(string(item, "output", where), shape, dtype, quantization)
            )
        }

        private fun parsePreprocessing(item: Map<String, Any?>): Preprocessing {
            val where = "model.json 'preprocessing'"
            val expected = mapOf<String, Any>(
                "crop" to "center",
                "interpolation" to "bilinear",
                "half_pixel_centers" to true,
                "antialias" to false
            )
            for ((key, value) in expected) {
                if (item[key] != value) {
                    throw MetadataException(
                        "$where has $key=${item[key]}, this app implements only $key=$value " +
                            "(the rule of docs/metadata.md)."
                    )
                }
            }
            val preprocessing = Preprocessing(int(item, "resize_shorter_side", where), int(item, "crop_size", where))
            if (preprocessing.cropSize <= 0 || preprocessing.resizeShorterSide < preprocessing.cropSize) {
                throw MetadataException(
                    "$where has resize_shorter_side=${preprocessing.resizeShorterSide} and " +
                        "crop_size=${preprocessing.cropSize}, expected 0 < crop_size <= resize_shorter_side."
                )
            }
            return preprocessing
        }

        private fun checkUniqueNames(input: TensorSpec, output: TensorSpec, states: List<StateSpec>) {
            val inputs = listOf(input.name) + states.map { it.input.name }
            val outputs = listOf(output.name) + states.map { it.output.name }
            for ((kind, names) in listOf("input" to inputs, "output" to outputs)) {
                val seen = HashSet<String>()
                for (name in names) {
                    if (!seen.add(name)) {
                        throw MetadataException("model.json names the $kind '$name' twice; each state needs its own tensors.")
                    }
                }
            }
        }

        private fun tensor(item: Map<String, Any?>, nameKey: String, where: String): TensorSpec =
            TensorSpec(string(item, nameKey, where), shape(item, where), string(item, "dtype", where), quantization(item, where))

        private fun shape(item: Map<String, Any?>, where: String): IntArray {
            val dimensions = list(item, "shape", where)
            return IntArray(dimensions.size) { index ->
                val dimension = dimensions[index] as? Double
                if (dimension == null || dimension < 1.0 || dimension != Math.floor(dimension)) {
                    throw MetadataException("$where shape $dimensions must hold positive integers.")
                }
                dimension.toInt()
            }
        }

        private fun quantization(item: Map<String, Any?>, where: String): Quantization? {
            val value = item["quantization"] ?: return null
            val quantization = asObject(value, "$where quantization")
            return Quantization(
                number(quantization, "scale", "$where quantization").toFloat(),
                int(quantization, "zero_point", "$where quantization")
            )
        }

        private fun asObject(value: Any?, where: String): Map<String, Any?> {
            if (value !is Map<*, *>) throw MetadataException("$where must be a JSON object, found ${describe(value)}.")
            @Suppress("UNCHECKED_CAST")
            return value as Map<String, Any?>
        }

        private fun required(item: Map<String, Any?>, key: String, where: String): Any =
            item[key] ?: throw MetadataException(
                "$where has no '$key' (keys present: ${item.keys.sorted()}). Re-export with tsm_tf.export_tflite."
            )

        private fun string(item: Map<String, Any?>, key: String, where: String): String =
            required(item, key, where) as? String
                ?: throw MetadataException("$where '$key' must be a string, found ${describe(item[key])}.")

        private fun number(item: Map<String, Any?>, key: String, where: String): Double =
            required(item, key, where) as? Double
                ?: throw MetadataException("$where '$key' must be a number, found ${describe(item[key])}.")

        private fun int(item: Map<String, Any?>, key: String, where: String): Int {
            val value = number(item, key, where)
            if (value != Math.floor(value)) throw MetadataException("$where '$key' must be an integer, found $value.")
            return value.toInt()
        }

        private fun list(item: Map<String, Any?>, key: String, where: String): List<Any?> =
            required(item, key, where) as? List<Any?>
                ?: throw MetadataException("$where '$key' must be a list, found ${describe(item[key])}.")

        private fun describe(value: Any?): String = when (value) {
            null -> "nothing"
            is String -> "\"$value\""
            is Map<*, *> -> "an object"
            is List<*> -> "a list"
            else -> value.toString()
        }
    }
}

/** Bytes per element of a tensor type this client can feed, or a [MetadataException]. */
internal fun bytesPerElement(dtype: String, name: String): Int = when (dtype) {
    "float32" -> 4
    "int8", "uint8" -> 1
    else -> throw MetadataException(
        "Tensor '$name' has dtype \"$dtype\"; this app feeds float32, int8 or uint8 tensors."
    )
}
