package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Test

class CropRegionTest {
    @Test
    fun theCentreSquareOfAPortraitCameraFrame() {
        // 480x640 upright, shorter side to 256: 256x341, crop 224 at top 58, left 16.
        val region = CropRegion.normalized(480, 640, Preprocessing(256, 224))
        assertArrayEquals(floatArrayOf(16f / 256, 58f / 341, 240f / 256, 282f / 341), region, 1e-6f)
    }

    @Test
    fun aFilledViewCutsTheOverflowEvenly() {
        // A 3:4 image in a 1080x2400 view: scaled by 3.75 to 1800x2400, 360 px cut each side.
        val view = CropRegion.inFilledView(floatArrayOf(0.25f, 0.5f, 0.75f, 1f), 480, 640, 1080, 2400)
        assertArrayEquals(floatArrayOf(90f, 1200f, 990f, 2400f), view, 1e-3f)
    }
}
