package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class FrameRotationTest {
    @Test
    fun theTurnsOfCameraXsOrientationGuide() {
        // developer.android.com/media/camera/camerax/orientation-rotation, "Image rotation":
        // (sensor, display rotation) -> image rotation, back cameras.
        val documented = listOf(
            Triple(90, 0, 90), Triple(90, 90, 0), // Pixel 3 XL
            Triple(270, 0, 270), Triple(270, 90, 180), // Nexus 5X
            Triple(0, 0, 0), Triple(0, 270, 90) // Pixel C
        )
        for ((sensor, rotation, expected) in documented) {
            assertEquals("sensor $sensor, rotation $rotation", expected, FrameRotation.clockwiseTurn(sensor, rotation, true))
        }
        // A front camera's mirror adds the device's turn (CameraOrientationUtil).
        assertEquals(0, FrameRotation.clockwiseTurn(270, 90, false))
        assertEquals(90, FrameRotation.clockwiseTurn(270, 180, false))
    }

    @Test
    fun landscapeToReverseLandscapeTurnsTheFrameByHalfATurn() {
        // The turn without recreating the activity that left the model's frames upside down.
        val landscape = FrameRotation.clockwiseTurn(90, FrameRotation.surfaceRotationDegrees(1), true)
        val reverse = FrameRotation.clockwiseTurn(90, FrameRotation.surfaceRotationDegrees(3), true)
        assertEquals(0, landscape)
        assertEquals(180, reverse)
    }

    @Test
    fun thePreviewShowsTheFrameAsTheDisplayStandsNotAsTheDeviceIsHeld() {
        // Auto-rotate off: the display stays in portrait while the phone is held sideways. The
        // model gets the 640x480 frame unturned (upright for the world); the preview, upright
        // for the display, shows it 480x640, and the overlay must use that.
        val forModel = FrameRotation.turnedSize(640, 480, FrameRotation.clockwiseTurn(90, 90, true))
        assertArrayEquals(intArrayOf(640, 480), forModel)
        assertArrayEquals(intArrayOf(480, 640), FrameRotation.shownSize(640, 480, 90, 0, true))
        assertArrayEquals(intArrayOf(640, 480), FrameRotation.shownSize(640, 480, 90, 270, true))
    }

    @Test(expected = IllegalArgumentException::class)
    fun aSurfaceRotationOutOfRangeIsRefused() {
        FrameRotation.surfaceRotationDegrees(4)
    }
}
