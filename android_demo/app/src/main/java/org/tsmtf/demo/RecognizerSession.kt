package org.tsmtf.demo

import android.content.res.AssetManager
import org.tsmtf.demo.core.ModelMetadata
import org.tsmtf.demo.core.StreamingRecognizer
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

/** A loaded model: the interpreter and the core recognizer that drives it. */
class RecognizerSession private constructor(
    val recognizer: StreamingRecognizer,
    val model: LiteRtSignatureModel
) : AutoCloseable {
    override fun close() = model.close()

    companion object {
        const val MODEL = "model.tflite"
        const val METADATA = "model.json"
        const val LABELS = "labels.txt"

        /** Reads model.tflite, model.json and the optional labels.txt from the app's assets. */
        fun open(assets: AssetManager, numThreads: Int, useGpu: Boolean): RecognizerSession {
            var metadata = ModelMetadata.parse(assets.open(METADATA).bufferedReader().use { it.readText() })
            if (assets.list("")?.contains(LABELS) == true) {
                metadata = metadata.withLabels(assets.open(LABELS).bufferedReader().use { it.readLines() })
            }
            val model = LiteRtSignatureModel(mapModel(assets), metadata.signatureKey, numThreads, useGpu)
            try {
                return RecognizerSession(StreamingRecognizer(metadata, model), model)
            } catch (error: RuntimeException) {
                model.close()
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
