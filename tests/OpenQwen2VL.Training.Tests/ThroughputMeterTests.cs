using OpenQwen2VL.Training.Observability;

namespace OpenQwen2VL.Tests.Training;

public class ThroughputMeterTests
{
    [Fact]
    public void SteadyStepsGiveTheirRate()
    {
        var meter = new ThroughputMeter(minSeconds: 1, minSteps: 3);
        meter.Start(0);
        for (int i = 1; i <= 40; i++)
        {
            meter.StepCompleted(0.1 * i, tokens: 500, images: 2, flops: 1e9);
            var (tokens, images, flops) = meter.Rates();
            Assert.Equal(5000, tokens, 6);
            Assert.Equal(20, images, 6);
            Assert.Equal(1e10, flops, 0);
        }
    }

    [Fact]
    public void OneStallMovesTheRateByItsShareNotByAnOrderOfMagnitude()
    {
        // Steps of 0.1 s and 500 tokens, one of them stalled for 1 s (a loader wait, a checkpoint write).
        var meter = new ThroughputMeter(minSeconds: 2, minSteps: 10);
        meter.Start(0);
        double t = 0;
        var rates = new List<double>();
        var naive = new List<double>();   // the old measure: one step's work over the time since the previous line
        double previous = 0;
        for (int i = 0; i < 60; i++)
        {
            t += i == 30 ? 1.1 : 0.1;
            meter.StepCompleted(t, 500, 0, 0);
            rates.Add(meter.Rates().Tokens);
            naive.Add(500 / (t - previous));
            previous = t;
        }
        // Consecutive naive lines differ 11x around the stall; the windowed rate moves by the stall's share of the window.
        Assert.True(naive[31] / naive[30] > 10);
        for (int i = 11; i < rates.Count; i++) Assert.InRange(rates[i] / rates[i - 1], 0.5, 2.0);
        Assert.InRange(rates[^1], 4999, 5001);   // once the stall has left the window
        Assert.InRange(rates[35], 2000, 4000);   // while it is inside
    }

    [Fact]
    public void RateIsZeroBeforeAnyStep() => Assert.Equal((0.0, 0.0, 0.0), new ThroughputMeter().Rates());
}
