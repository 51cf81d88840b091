package org.tsmtf.demo.core

import java.nio.Buffer
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** Direct, native-order buffers for tensors, and float conversion by dtype and quantization. */
internal object TensorBuffers {
    fun allocate(tensor: TensorSpec): ByteBuffer =
        ByteBuffer.allocateDirect(tensor.size * tensor.bytesPerElement).order(ByteOrder.nativeOrder())

    // Called through Buffer: ByteBuffer.rewind() only exists on newer JDKs and Android levels.
    fun rewind(buffer: ByteBuffer) {
        (buffer as Buffer).rewind()
    }

    /** Fills [buffer] with the tensor's zero: 0.0, or the zero point when quantized. */
    fun fillZero(buffer: ByteBuffer, tensor: TensorSpec) {
        if (tensor.dtype == "float32") {
            for (index in 0 until tensor.size) buffer.putFloat(index * 4, 0f)
        } else {
            val zero = (tensor.quantization?.zeroPoint ?: 0).toByte()
            for (index in 0 until tensor.size) buffer.put(index, zero)
        }
    }

    /** Writes real [values] into [buffer], quantizing them (round half away, clamp) when needed. */
    fun write(values: FloatArray, buffer: ByteBuffer, tensor: TensorSpec) {
        require(values.size == tensor.size) {
            "Tensor '${tensor.name}' holds ${tensor.size} values, received ${values.size}."
        }
        if (tensor.dtype == "float32") {
            for (index in values.indices) buffer.putFloat(index * 4, values[index])
            return
        }
        val quantization = tensor.quantization ?: Quantization(1f, 0)
        val low = if (tensor.dtype == "int8") -128 else 0
        val high = if (tensor.dtype == "int8") 127 else 255
        for (index in values.indices) {
            val stored = Math.round(values[index] / quantization.scale) + quantization.zeroPoint
            buffer.put(index, Math.min(Math.max(stored, low), high).toByte())
        }
    }

    /** Reads [buffer] as real values, dequantizing when needed. */
    fun read(buffer: ByteBuffer, tensor: TensorSpec): FloatArray {
        val values = FloatArray(tensor.size)
        if (tensor.dtype == "float32") {
            for (index in values.indices) values[index] = buffer.getFloat(index * 4)
            return values
        }
        val quantization = tensor.quantization ?: Quantization(1f, 0)
        for (index in values.indices) {
            val raw = buffer.get(index).toInt()
            val stored = if (tensor.dtype == "uint8") raw and 0xFF else raw
            values[index] = quantization.scale * (stored - quantization.zeroPoint)
        }
        return values
    }
}
