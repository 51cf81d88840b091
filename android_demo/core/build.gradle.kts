// Pure Kotlin (no Android): metadata, state bookkeeping, preprocessing, smoothing.
// Its sources also compile with Debian's kotlinc 1.3 (tests/test_android_core.py), so keep
// them within Kotlin 1.3: no sealed interfaces, no `fun interface`, no newer stdlib calls.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // Golden vectors come from Python: python -m tsm_tf.cli.golden --output_dir DIR and
    // python -m tsm_tf.cli.pacer_golden --output=DIR/pacer.json, then
    // ./gradlew :core:test -PtsmGolden=DIR. Without them the tests that read them are left out.
    val golden = providers.gradleProperty("tsmGolden").orNull
    if (golden != null) {
        systemProperty("tsm.golden", golden)
    } else {
        exclude("**/GoldenReplayTest*", "**/FramePacerGoldenTest*", "**/YuvCropPreprocessorTest*")
    }
}
