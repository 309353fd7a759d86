// Behavioural model of the Lattice ECP5 MULT18X18D, in the configurations eligo instantiates
// (eligo_hw.arith.product_of_held): an 18 x 18 multiply, each operand signed or not (SIGNEDA, SIGNEDB),
// each either registered on CLK0 (CE0 enable, RST0 synchronous reset) or not, the product unregistered.
// Written from the primitive's documented behaviour for the benches; any other parameter is an error.
// SPDX-License-Identifier: BSD-2-Clause
module MULT18X18D #(
    parameter REG_INPUTA_CLK = "NONE",
    parameter REG_INPUTB_CLK = "NONE",
    parameter GSR = "ENABLED"
) (
    input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17, B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17, CLK0, CE0, RST0, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17, P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34, P35
);
    wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_held = 18'd0, b_held = 18'd0;
    always @(posedge CLK0) begin
        if (RST0) begin
            a_held <= 18'd0;
            b_held <= 18'd0;
        end else if (CE0) begin
            a_held <= a_in;
            b_held <= b_in;
        end
    end
    wire [17:0] a = REG_INPUTA_CLK == "CLK0" ? a_held : a_in;
    wire [17:0] b = REG_INPUTB_CLK == "CLK0" ? b_held : b_in;
    wire signed [35:0] product = $signed({{18{SIGNEDA & a[17]}}, a}) * $signed({{18{SIGNEDB & b[17]}}, b});
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = product;
endmodule
