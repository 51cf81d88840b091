package org.tsmtf.demo.core

/**
 * Where the model looks: the centre crop of docs/metadata.md as a rectangle of the upright
 * camera image, and that rectangle on a preview that fills its view (CameraX PreviewView's
 * default FILL_CENTER), for the app to draw.
 */
object CropRegion {
    /**
     * The crop of an upright image of [width] x [height] as fractions of its size:
     * `[left, top, right, bottom]` in [0, 1].
     */
    @JvmStatic
    fun normalized(width: Int, height: Int, preprocessing: Preprocessing): FloatArray {
        val resized = FramePreprocessor.resizedSize(height, width, preprocessing.resizeShorterSide)
        val crop = preprocessing.cropSize
        val top = (resized[0] - crop) / 2
        val left = (resized[1] - crop) / 2
        return floatArrayOf(
            left.toFloat() / resized[1], top.toFloat() / resized[0],
            (left + crop).toFloat() / resized[1], (top + crop).toFloat() / resized[0]
        )
    }

    /**
     * [region] (from [normalized]) in the pixels of a [viewWidth] x [viewHeight] view showing
     * the [imageWidth] x [imageHeight] image scaled to fill it, centred (the overflow cut off).
     */
    @JvmStatic
    fun inFilledView(region: FloatArray, imageWidth: Int, imageHeight: Int, viewWidth: Int, viewHeight: Int): FloatArray {
        val scale = Math.max(viewWidth.toFloat() / imageWidth, viewHeight.toFloat() / imageHeight)
        val shownWidth = imageWidth * scale
        val shownHeight = imageHeight * scale
        val offsetX = (viewWidth - shownWidth) / 2
        val offsetY = (viewHeight - shownHeight) / 2
        return floatArrayOf(
            offsetX + region[0] * shownWidth, offsetY + region[1] * shownHeight,
            offsetX + region[2] * shownWidth, offsetY + region[3] * shownHeight
        )
    }
}
