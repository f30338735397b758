using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

namespace OpenQwen2VL.Analyzers;

/// <summary>
/// Keeps TorchSharp's temporary-Scalar crash out of the code base at compile time, at the exact line, with the fix.
/// <para>
/// The crash: a TorchSharp Scalar made on the fly (the implicit conversion in <c>t.div(2.0)</c>, the <c>2.0</c> that
/// <c>t * 2.0</c> converts inside TorchSharp, the alpha = 1 that <c>a + b</c>, <c>a.add(b)</c> and <c>add_(b)</c> fill
/// in) owns a native c10::Scalar and has a finaliser. Once its handle has been read the JIT may treat it as dead, and a GC
/// on another thread (our data loaders allocate a lot) can free it while libtorch still reads it: a rare
/// "Unknown scalar type" crash (dotnet/TorchSharp PR #1434, #1496). TorchSharp's own optimisers hit it too.
/// </para>
/// <para>
/// The one convention: a Scalar libtorch reads is held for the whole call, a constant as a static readonly field of
/// <c>OpenQwen2VL.Model.CachedScalars</c> (never finalised), a value known only at run time in a
/// <c>using var s = x.ToScalar();</c> local (alive to the end of its scope); TorchSharp overloads that make a Scalar
/// themselves are replaced by the overload that takes it (<c>a.add(b, alpha: CachedScalars.One)</c>); models train with
/// our own optimiser (MaskedAdamW). The rules below enforce exactly that:
/// OQVL0001 an implicit conversion of a value to a Scalar (or a Tensor), OQVL0002 a Scalar from ToScalar() (or any
/// TorchSharp member) not held in one of those two ways, OQVL0003 a TorchSharp member that creates a temporary Scalar
/// inside TorchSharp, OQVL0004 a TorchSharp module whose forward does, OQVL0005 TorchSharp's optimisers and schedulers.
/// </para>
/// <para>
/// Why an analyzer and not a thin ops layer of our own: the maths should keep reading like the PyTorch it ports, with
/// TorchSharp's PyTorch names, and an ops layer cannot keep them. C# binds a type's own operators and instance methods
/// before any extension member (C# 14 extension operators included: with an <c>extension(Tensor)</c> block declaring
/// <c>operator +</c> and <c>add(Tensor)</c>, <c>a + b</c> and <c>a.add(b)</c> still compile to TorchSharp's members), so
/// a safe layer would need new names (<c>Ops.Add(a, b)</c>, <c>a.plus(b)</c>), every reader would have to learn them, and
/// nothing would stop a contributor from calling TorchSharp directly, so a check would be needed anyway. The analyzer is
/// that check, at build time rather than in a test run: the contributor sees the error on the line, with the held-Scalar
/// form to write. It replaced an IL scan of our built assemblies that said only "method X, somewhere".
/// </para>
/// <para>
/// Which TorchSharp members create a temporary Scalar is read from TorchSharp.dll's IL by the analyzer tests and kept
/// here as <c>TorchSharpTemporaryScalarMembers.txt</c>; a test fails when that list and the DLL disagree (a TorchSharp
/// upgrade), and prints the list to commit.
/// </para>
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TemporaryScalarAnalyzer : DiagnosticAnalyzer
{
    const string Category = "TorchSharp";
    const string Convention = "hold it: a constant in CachedScalars (static readonly), a run-time value in 'using var s = x.ToScalar();'";

    public static readonly DiagnosticDescriptor ImplicitConversion = new(
        "OQVL0001", "Implicit conversion to a temporary TorchSharp object",
        "'{0}' becomes a temporary {1} that the GC can finalise while libtorch still reads it: {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "An implicit conversion to TorchSharp.Scalar (or to a Tensor from a value) creates a native object nothing keeps alive.");

    public static readonly DiagnosticDescriptor ScalarNotHeld = new(
        "OQVL0002", "TorchSharp Scalar not held",
        "The Scalar from '{0}' is not held, so the GC can finalise it while libtorch still reads it: " + Convention,
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A Scalar lives in a static readonly field of CachedScalars or in a using-declared local.");

    public static readonly DiagnosticDescriptor MemberMakesTemporary = new(
        "OQVL0003", "TorchSharp member creates a temporary Scalar",
        "'{0}' creates a temporary Scalar inside TorchSharp that the GC can finalise while libtorch still reads it: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The member (or one it calls) converts a value to a Scalar and never disposes it; use the overload that takes every Scalar.");

    public static readonly DiagnosticDescriptor ModuleMakesTemporary = new(
        "OQVL0004", "TorchSharp module whose forward creates a temporary Scalar",
        "The forward of '{0}' creates a temporary Scalar inside TorchSharp: write the forward here, with held Scalars",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TorchSharpOptimizer = new(
        "OQVL0005", "TorchSharp optimiser or learning-rate scheduler",
        "'{0}' is TorchSharp's optimiser machinery, whose step() hands libtorch temporary Scalars: train with OpenQwen2VL.Training.Optim.MaskedAdamW and WarmupCosineSchedule",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(ImplicitConversion, ScalarNotHeld, MemberMakesTemporary, ModuleMakesTemporary, TorchSharpOptimizer);

    /// <summary>IL keys (<see cref="MemberKeys"/>) of the TorchSharp members that create a Scalar they never dispose.</summary>
    public static IReadOnlyCollection<string> TemporaryScalarMembers => Members.Value.All;

    sealed class MemberList
    {
        public readonly HashSet<string> All;
        public readonly HashSet<string> ModulesWithHazardousForward;

        public MemberList(IEnumerable<string> keys)
        {
            All = new HashSet<string>(keys, System.StringComparer.Ordinal);
            ModulesWithHazardousForward = new HashSet<string>(
                All.Where(k => k.Contains("::forward(")).Select(k => k.Substring(0, k.IndexOf("::", System.StringComparison.Ordinal))),
                System.StringComparer.Ordinal);
        }
    }

    static readonly System.Lazy<MemberList> Members = new(() =>
    {
        using var stream = typeof(TemporaryScalarAnalyzer).Assembly.GetManifestResourceStream("TorchSharpTemporaryScalarMembers.txt")
            ?? throw new InvalidDataException("TorchSharpTemporaryScalarMembers.txt is not embedded");
        using var reader = new StreamReader(stream);
        var keys = new List<string>();
        for (string? line; (line = reader.ReadLine()) is not null;)
            if (line.Trim() is { Length: > 0 } key && !key.StartsWith("#", System.StringComparison.Ordinal)) keys.Add(key);
        return new MemberList(keys);
    });

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var c = start.Compilation;
            if (c.GetTypeByMetadataName("TorchSharp.Scalar") is not { } scalar
                || c.GetTypeByMetadataName("TorchSharp.torch+Tensor") is not { } tensor)
                return; // no TorchSharp here
            var rules = new Rules(scalar, tensor,
                c.GetTypeByMetadataName("TorchSharp.torch+optim"),
                c.GetTypeByMetadataName("TorchSharp.torch+optim+Optimizer"),
                c.GetTypeByMetadataName("TorchSharp.torch+optim+lr_scheduler+LRScheduler"),
                Members.Value);
            start.RegisterOperationAction(rules.Conversion, OperationKind.Conversion);
            start.RegisterOperationAction(rules.Invocation, OperationKind.Invocation);
            start.RegisterOperationAction(rules.ObjectCreation, OperationKind.ObjectCreation);
            start.RegisterOperationAction(rules.Operator, OperationKind.Binary, OperationKind.Unary, OperationKind.CompoundAssignment,
                OperationKind.Increment, OperationKind.Decrement);
            start.RegisterOperationAction(rules.PropertyReference, OperationKind.PropertyReference);
            start.RegisterOperationAction(rules.MethodReference, OperationKind.MethodReference);
        });
    }

    sealed class Rules(INamedTypeSymbol scalar, INamedTypeSymbol tensor, INamedTypeSymbol? optim, INamedTypeSymbol? optimizer,
        INamedTypeSymbol? scheduler, MemberList members)
    {
        readonly ConcurrentDictionary<IMethodSymbol, string> keys = new(SymbolEqualityComparer.Default);

        static readonly SymbolDisplayFormat Display = SymbolDisplayFormat.CSharpShortErrorMessageFormat;

        public void Conversion(OperationAnalysisContext context)
        {
            var conversion = (IConversionOperation)context.Operation;
            if (conversion.OperatorMethod is not { } method || !IsTorchSharp(method)) return;
            var target = method.ReturnType;
            if (!Is(target, scalar) && !Is(target, tensor)) return;
            string hint = Is(target, scalar) ? Convention : "create it explicitly (torch.tensor(x)) and own it";
            context.ReportDiagnostic(Diagnostic.Create(ImplicitConversion, conversion.Syntax.GetLocation(),
                conversion.Operand.Syntax.ToString(), target.Name, hint));
        }

        public void Invocation(OperationAnalysisContext context)
        {
            var invocation = (IInvocationOperation)context.Operation;
            var method = invocation.TargetMethod;
            if (!IsTorchSharp(method)) return;
            if (UsedMember(context, method)) return;
            if (method.ReturnType is INamedTypeSymbol created && HasHazardousForward(created))
                context.ReportDiagnostic(Diagnostic.Create(ModuleMakesTemporary, Where(invocation.Syntax), created.ToDisplayString(Display)));
            if (Is(method.ReturnType, scalar) && !IsHeld(invocation))
                context.ReportDiagnostic(Diagnostic.Create(ScalarNotHeld, Where(invocation.Syntax), method.ToDisplayString(Display)));
        }

        public void ObjectCreation(OperationAnalysisContext context)
        {
            var creation = (IObjectCreationOperation)context.Operation;
            if (creation.Constructor is not { } ctor || creation.Type is not INamedTypeSymbol created) return;
            if (IsTorchSharp(ctor) && UsedMember(context, ctor)) return;
            if (HasHazardousForward(created))
                context.ReportDiagnostic(Diagnostic.Create(ModuleMakesTemporary, creation.Syntax.GetLocation(), created.ToDisplayString(Display)));
            if (Is(created, scalar) && !IsHeld(creation))
                context.ReportDiagnostic(Diagnostic.Create(ScalarNotHeld, creation.Syntax.GetLocation(), ctor.ToDisplayString(Display)));
        }

        public void Operator(OperationAnalysisContext context)
        {
            var method = context.Operation switch
            {
                IBinaryOperation b => b.OperatorMethod,
                IUnaryOperation u => u.OperatorMethod,
                ICompoundAssignmentOperation a => a.OperatorMethod,
                IIncrementOrDecrementOperation i => i.OperatorMethod,
                _ => null,
            };
            if (method is not null && IsTorchSharp(method)) UsedMember(context, method);
        }

        public void PropertyReference(OperationAnalysisContext context)
        {
            var reference = (IPropertyReferenceOperation)context.Operation;
            var property = reference.Property;
            if (property.ContainingAssembly?.Name != "TorchSharp") return;
            bool written = reference.Parent is IAssignmentOperation assignment && assignment.Target == reference;
            bool read = !(reference.Parent is ISimpleAssignmentOperation simple && simple.Target == reference);
            if (written && property.SetMethod is { } set && UsedMember(context, set)) return;
            if (read && property.GetMethod is { } get) UsedMember(context, get);
        }

        public void MethodReference(OperationAnalysisContext context)
        {
            var method = ((IMethodReferenceOperation)context.Operation).Method;
            if (IsTorchSharp(method)) UsedMember(context, method);
        }

        /// <summary>Reports an optimiser member or a member that creates a temporary Scalar; true if it reported.</summary>
        bool UsedMember(OperationAnalysisContext context, IMethodSymbol method)
        {
            var location = Where(context.Operation.Syntax);
            if (IsOptimizer(method.ContainingType))
            {
                context.ReportDiagnostic(Diagnostic.Create(TorchSharpOptimizer, location, method.ToDisplayString(Display)));
                return true;
            }
            if (!members.All.Contains(Key(method))) return false;
            context.ReportDiagnostic(Diagnostic.Create(MemberMakesTemporary, location, method.ToDisplayString(Display), Hint(method)));
            return true;
        }

        /// <summary>Where to point in a chain: an operator's token, or a call from its name on (`a.mul(b).add(c)` at `add(c)`).</summary>
        static Location Where(SyntaxNode syntax) => syntax switch
        {
            BinaryExpressionSyntax b => b.OperatorToken.GetLocation(),
            AssignmentExpressionSyntax a => a.OperatorToken.GetLocation(),
            InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax m } i =>
                Location.Create(i.SyntaxTree, TextSpan.FromBounds(m.Name.SpanStart, i.Span.End)),
            _ => syntax.GetLocation(),
        };

        string Key(IMethodSymbol method) => keys.GetOrAdd(method, MemberKeys.Of);

        bool HasHazardousForward(INamedTypeSymbol type)
        {
            for (INamedTypeSymbol? t = type; t is not null; t = t.BaseType)
                if (t.ContainingAssembly?.Name == "TorchSharp" && members.ModulesWithHazardousForward.Contains(MemberKeys.TypeDefinition(t)))
                    return true;
            return false;
        }

        bool IsOptimizer(INamedTypeSymbol? type)
        {
            for (var t = type; t is not null; t = t.ContainingType)
                if (Is(t, optim)) return true;
            for (var t = type; t is not null; t = t.BaseType)
                if (Is(t, optimizer) || Is(t, scheduler)) return true;
            return false;
        }

        string Hint(IMethodSymbol method)
        {
            var ps = method.Parameters;
            bool leftIsValue = ps.Length == 2 && !Is(ps[0].Type, tensor);
            switch (method.Name)
            {
                case "op_Subtraction" when leftIsValue:
                    return "write -(t - s) with s held (TorchSharp computes s - t as t.negative().add(s), filling in a temporary alpha = 1)";
                case "add" or "add_" or "op_Addition":
                    return "pass alpha with a held Scalar, a.add(b, alpha: CachedScalars.One) (a + b, add(b) and add_(b) fill in a temporary alpha = 1)";
                case "op_Subtraction" or "op_Multiply" or "op_Division" or "op_Modulus":
                    return "make the value a held Scalar (t * s): a constant in CachedScalars, a run-time value in 'using var s = x.ToScalar();'";
                case "square":
                    return "write t.pow(CachedScalars.Two)";
                case "addcdiv" or "addcdiv_" or "addcmul" or "addcmul_":
                    return "pass value with a held Scalar";
                case "arange":
                    return "use arange(start, end, step) with held Scalars";
                default:
                    return "use an overload that takes every Scalar, each one held, or write it with such overloads";
            }
        }

        /// <summary>
        /// Whether the Scalar an expression creates is held the one way the convention allows: it initialises a
        /// using-declared local (disposed at the end of its scope, so alive until then) or a static readonly field of
        /// a class named CachedScalars (never finalised). Any other field would be safe too, but two ways are enough.
        /// </summary>
        static bool IsHeld(IOperation created)
        {
            var op = created;
            var parent = op.Parent;
            while (parent is IParenthesizedOperation
                   || parent is IConversionOperation { OperatorMethod: null }
                   || (parent is IConditionalOperation cond && op != cond.Condition)
                   || parent is ICoalesceOperation)
            {
                op = parent;
                parent = op.Parent;
            }
            switch (parent)
            {
                case IFieldInitializerOperation field:
                    return field.InitializedFields.All(f => f.IsStatic && f.IsReadOnly && f.ContainingType.Name == "CachedScalars");
                case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation { Parent: IVariableDeclarationOperation { Parent: IVariableDeclarationGroupOperation group } } }:
                    return group.Parent is IUsingDeclarationOperation || group.Parent is IUsingOperation;
                default:
                    return false;
            }
        }

        static bool IsTorchSharp(IMethodSymbol method) => method.ContainingAssembly?.Name == "TorchSharp";

        static bool Is(ITypeSymbol? type, INamedTypeSymbol? expected) =>
            expected is not null && SymbolEqualityComparer.Default.Equals(type?.OriginalDefinition, expected);
    }
}
