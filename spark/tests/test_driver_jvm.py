"""The driver JVM the session starts compiles with C1 on one thread (session.DRIVER_JAVA_OPTIONS),
and a user's own spark.driver.extraJavaOptions come after those, so theirs win."""
from __future__ import annotations

from emostream_spark.session import DRIVER_JAVA_OPTIONS, driver_java_options


def flag(spark, name: str) -> str:
    jvm = spark.sparkContext._jvm
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
        jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean"))
    return bean.getVMOption(name).getValue()


def test_the_session_jvm_runs_c1_on_one_thread(spark):
    args = list(spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    for opt in DRIVER_JAVA_OPTIONS.split():
        assert opt in args
    assert flag(spark, "TieredStopAtLevel") == "1"
    assert flag(spark, "CICompilerCount") == "1"


def test_a_users_options_come_last():
    assert driver_java_options(None) == DRIVER_JAVA_OPTIONS
    assert driver_java_options("  ") == DRIVER_JAVA_OPTIONS
    merged = driver_java_options("-XX:TieredStopAtLevel=4 -XX:CICompilerCount=2 -Dx=1")
    assert merged.startswith(DRIVER_JAVA_OPTIONS + " ")
    assert merged.split()[-3:] == ["-XX:TieredStopAtLevel=4", "-XX:CICompilerCount=2", "-Dx=1"]
