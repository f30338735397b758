using static OpenQwen2VL.Tests.Analyzers.AnalyzerHarness;

namespace OpenQwen2VL.Tests.Analyzers;

/// <summary>Each rule of TemporaryScalarAnalyzer on the patterns it must flag, and the held forms it must accept.</summary>
public sealed class TemporaryScalarAnalyzerTests
{
    [Fact]
    public void An_implicit_conversion_to_a_Scalar_or_a_Tensor_is_flagged()
    {
        Verify("""
            static class C
            {
                static readonly Scalar Three = 3.0; // OQVL0001
                static Tensor A(Tensor t) => t.div(2.0); // OQVL0001
                static Tensor B(Tensor t) => t.clamp_min(0); // OQVL0001
                static Tensor D(Tensor t) => t.maximum(1.0); // OQVL0001
                static Tensor E(Tensor t) => t.mul(t.shape[0]); // OQVL0001
            }
            """);
    }

    [Fact]
    public void A_Scalar_that_is_not_held_is_flagged()
    {
        Verify("""
            static class C
            {
                static Tensor A(Tensor t) => t.div(2.0.ToScalar()); // OQVL0002
                static Tensor B(Tensor t)
                {
                    var two = 2.0.ToScalar(); // OQVL0002
                    return t.div(two);
                }
                static Scalar D() => 2.0.ToScalar(); // OQVL0002
                static Tensor E(Tensor t) => t.div(t.sum().ToScalar()); // OQVL0002
                static Scalar[] F() => [1.ToScalar(), 2.ToScalar()]; // OQVL0002 OQVL0002
            }

            sealed class FieldsOutsideCachedScalars
            {
                static readonly Scalar Two = 2.0.ToScalar(); // OQVL0002
                readonly Scalar eps;
                Scalar Half { get; } = 0.5.ToScalar(); // OQVL0002
                FieldsOutsideCachedScalars(double e) { eps = e.ToScalar(); } // OQVL0002
                Tensor A(Tensor t) => t.div(Two).add(eps, CachedScalars.One).mul(Half);
            }
            """);
    }

    [Fact]
    public void Held_Scalars_and_safe_operators_are_accepted()
    {
        Verify("""
            sealed class C(double eps)
            {
                Tensor A(Tensor t)
                {
                    using var s = 2.0.ToScalar();
                    using var e = eps.ToScalar();
                    return t.div(s).add(e, CachedScalars.One).mul(CachedScalars.Two);
                }
                static Tensor B(Tensor t, bool f)
                {
                    using (var s = f ? 1.0.ToScalar() : (2.0.ToScalar()))
                        return t.div(s);
                }
                static Tensor D(Tensor a, Tensor b) => a.add(b, alpha: CachedScalars.One) - b * a / b;
                static Tensor E(Tensor t) => -(t - CachedScalars.One) * CachedScalars.Two;
                static Tensor F2(Tensor t) => CachedScalars.Two / t.add(t, alpha: CachedScalars.One);
                static Tensor F(Tensor t) => t.pow(CachedScalars.Two).sub(CachedScalars.One);
                static nn.Module<Tensor, Tensor> G() => nn.GELU();
                static Tensor H(Tensor t) => t.add_(t, CachedScalars.One).add_(CachedScalars.One, CachedScalars.One);
                static Tensor I() => tensor(2.0);
            }
            """);
    }

    [Fact]
    public void A_TorchSharp_member_that_creates_a_temporary_Scalar_is_flagged_in_every_form_of_use()
    {
        Verify("""
            static class C
            {
                static Tensor A(Tensor a, Tensor b) => a + b; // OQVL0003
                static Tensor B(Tensor a, Tensor b) => a.add(b); // OQVL0003
                static void D(Tensor a, Tensor b) { a.add_(b); } // OQVL0003
                static Tensor E(Tensor t) => t * 2.0; // OQVL0003
                static Tensor F(Tensor t) => 1.0 - t; // OQVL0003
                static Tensor G(Tensor t) => CachedScalars.One - t; // OQVL0003
                static Tensor H(Tensor t) => t.square(); // OQVL0003
                static void I(Tensor t) { t += t; } // OQVL0003
                static Func<Tensor, Tensor> J() => torch.square; // OQVL0003
                static Tensor K(Tensor[] ts) => ts.Aggregate((x, y) => x + y); // OQVL0003
                static Tensor L(Tensor t) => nn.functional.softplus(t); // OQVL0003
                static Tensor M(Tensor t) => t.mul(t).add(t.mul(t)); // OQVL0003
            }
            """);
    }

    [Fact]
    public void The_message_says_what_to_write_instead()
    {
        var d = Verify("""
            static class C
            {
                static Tensor A(Tensor a, Tensor b) => a + b; // OQVL0003
                static Tensor B(Tensor t) => CachedScalars.One - t; // OQVL0003
                static Tensor D(Tensor t) => t.square(); // OQVL0003
                static Tensor E(Tensor t) => t.div(2.0); // OQVL0001
            }
            """);
        var messages = d.OrderBy(x => x.Location.SourceSpan.Start).Select(x => x.GetMessage()).ToList();
        Assert.Contains("a.add(b, alpha: CachedScalars.One)", messages[0]);
        Assert.Contains("-(t - s)", messages[1]);
        Assert.Contains("t.pow(CachedScalars.Two)", messages[2]);
        Assert.Contains("using var s = x.ToScalar();", messages[3]);
    }

    [Fact]
    public void The_diagnostic_points_at_the_offending_call_in_a_chain()
    {
        var d = Assert.Single(Verify("""
            static class C
            {
                static Tensor A(Tensor a, Tensor b) => a.mul(b).add(b).relu(); // OQVL0003
            }
            """));
        Assert.Equal("add(b)", d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan));
    }

    [Fact]
    public void A_TorchSharp_module_whose_forward_creates_a_temporary_Scalar_is_flagged_where_it_is_made()
    {
        Verify("""
            static class C
            {
                static nn.Module<Tensor, Tensor> A() => nn.Softplus(); // OQVL0004
                static nn.Module<Tensor, Tensor> B() => nn.LeakyReLU(0.1); // OQVL0004
                static nn.Module<Tensor, Tensor> D() => nn.SiLU();
            }
            """);
    }

    [Fact]
    public void TorchSharp_optimisers_and_schedulers_are_flagged()
    {
        Verify("""
            static class C
            {
                static void A(nn.Module m)
                {
                    var opt = optim.AdamW(m.parameters(), lr: 1e-3); // OQVL0005
                    var scheduler = optim.lr_scheduler.LambdaLR(opt, i => 1.0); // OQVL0005
                    opt.zero_grad(); // OQVL0005
                    opt.step(); // OQVL0005
                    scheduler.step(); // OQVL0005
                    var sgd = new TorchSharp.Modules.SGD(m.parameters(), 0.1); // OQVL0005
                }
            }
            """);
    }

    [Fact]
    public void Code_without_TorchSharp_is_left_alone()
    {
        // The Data layer has no TorchSharp; there the analyzer must not even look (System.Numerics has its own ToScalar).
        Assert.Empty(DiagnoseWithoutTorchSharp("static class C { static double F(double x) => x * 2.0 + 1; }"));
    }
}
