package org.tsmtf.demo

import android.content.res.AssetManager
import org.tsmtf.demo.core.MissingModelException
import org.tsmtf.demo.core.ModelMetadata
import org.tsmtf.demo.core.StreamingRecognizer
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/** A loaded model: the interpreter and the core recognizer that drives it. */
class RecognizerSession private constructor(
    val recognizer: StreamingRecognizer,
    val model: LiteRtSignatureModel,
    /** Why the GPU was asked for but not used, or null. */
    val gpuNote: String?
) : AutoCloseable {
    override fun close() = model.close()

    companion object {
        const val MODEL = "model.tflite"
        const val METADATA = "model.json"
        const val LABELS = "labels.txt"
        const val EXPORT_COMMAND = "python export/export_tflite.py --model=my_online_tsm.keras " +
            "--output=out/model.tflite --mode=streaming --android_assets"

        /**
         * Reads model.tflite, model.json and the optional labels.txt from the app's assets.
         *
         * @throws MissingModelException when model.tflite or model.json is not there.
         */
        fun open(assets: AssetManager, numThreads: Int, useGpu: Boolean): RecognizerSession {
            val files = assets.list("")?.toSet() ?: emptySet()
            val missing = listOf(MODEL, METADATA).filter { it !in files }
            if (missing.isNotEmpty()) {
                throw MissingModelException(
                    "No model in the app: ${missing.joinToString(" and ")} missing from " +
                        "android_demo/app/src/main/assets/. From the repository root run\n\n" +
                        "$EXPORT_COMMAND\n\nthen build and install the app again (./gradlew installDebug)."
                )
            }
            var metadata = ModelMetadata.parse(assets.open(METADATA).bufferedReader().use { it.readText() })
            if (LABELS in files) {
                metadata = metadata.withLabels(assets.open(LABELS).bufferedReader().use { it.readLines() })
            }
            val opened = LiteRtSignatureModel.open(mapModel(assets), metadata.signatureKey, numThreads, useGpu)
            try {
                return RecognizerSession(StreamingRecognizer(metadata, opened.model), opened.model, opened.gpuNote)
            } catch (error: Throwable) {
                opened.model.close()
                throw error
            }
        }

        // Memory-maps the model from the APK (stored uncompressed, see app/build.gradle.kts).
        private fun mapModel(assets: AssetManager): ByteBuffer = assets.openFd(MODEL).use { descriptor ->
            FileInputStream(descriptor.fileDescriptor).use { stream ->
                stream.channel.map(FileChannel.MapMode.READ_ONLY, descriptor.startOffset, descriptor.declaredLength)
            }
        }
    }
}
