package org.tsmtf.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import org.tsmtf.demo.core.CropRegion

/**
 * Draws, over the camera preview, the square the model classifies (the centre crop of
 * model.json's preprocessing), mapped as PreviewView's default FILL_CENTER shows the image.
 */
class CropOverlayView(context: Context, attributes: AttributeSet?) : View(context, attributes) {
    private val paint = Paint().apply {
        style = Paint.Style.STROKE
        strokeWidth = 3 * resources.displayMetrics.density
        color = Color.argb(200, 255, 214, 0)
    }
    private var region: FloatArray? = null
    private var imageSize: IntArray? = null

    /** Shows [normalizedRegion] of an upright image of [uprightSize] (`[width, height]`). */
    fun show(normalizedRegion: FloatArray?, uprightSize: IntArray?) {
        if (normalizedRegion?.contentEquals(region) == true && uprightSize?.contentEquals(imageSize) == true) return
        region = normalizedRegion
        imageSize = uprightSize
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val currentRegion = region ?: return
        val size = imageSize ?: return
        val box = CropRegion.inFilledView(currentRegion, size[0], size[1], width, height)
        canvas.drawRect(box[0], box[1], box[2], box[3], paint)
    }
}
