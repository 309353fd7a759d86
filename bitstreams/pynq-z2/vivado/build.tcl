# PYNQ-Z2 (xc7z020clg400-1): package an eligo core with the Zynq PS7 and an AXI DMA into a block
# design and write the bitstream plus the .hwh that pynq.Overlay reads.
#
# Usage (Vivado 2022.2 or later, batch mode):
#   vivado -mode batch -source build.tcl -tclargs <core.v> <top module> [output folder]
# Defaults: ../update/eligo_update.v, eligo_update, ./out.
#
# The core is added as a module reference. Its flat ports (from eligo_hw.export) are inferred as
# interfaces by prefix: s_axil_* (AXI4-Lite slave, registers), s_axis_* / m_axis_* (AXI4-Stream
# in/out, event words), clk and rst (active high). Whichever of these the core has is connected:
# s_axil to the PS7's GP0 master, the streams to the DMA's MM2S/S2MM channels.

set script_dir [file dirname [file normalize [info script]]]
set core_v [file normalize [expr {[llength $argv] > 0 ? [lindex $argv 0] : "$script_dir/../update/eligo_update.v"}]]
set top [expr {[llength $argv] > 1 ? [lindex $argv 1] : "eligo_update"}]
set out_dir [file normalize [expr {[llength $argv] > 2 ? [lindex $argv 2] : "$script_dir/out"}]]
set part xc7z020clg400-1
set fabric_mhz 100

if {![file exists $core_v]} {
    error "core Verilog $core_v not found: run 'eligo build --board pynq-z2' first"
}
file mkdir $out_dir
create_project eligo_pynq_z2 "$out_dir/project" -part $part -force
add_files -norecurse $core_v
set_property top $top [current_fileset]
update_compile_order -fileset sources_1

create_bd_design eligo

# Processing system: DDR and fixed IO external, one fabric clock, GP0 master and HP0 slave for the DMA.
create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {make_external "FIXED_IO, DDR" apply_board_preset "0"} [get_bd_cells ps7]
set_property -dict [list \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fabric_mhz \
    CONFIG.PCW_USE_M_AXI_GP0 {1} \
    CONFIG.PCW_USE_S_AXI_HP0 {1}] [get_bd_cells ps7]

# Simple-mode DMA (no scatter-gather): 32-bit event words in both directions.
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 dma
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_m_axis_mm2s_tdata_width {32} \
    CONFIG.c_s_axis_s2mm_tdata_width {32}] [get_bd_cells dma]

create_bd_cell -type module -reference $top core

apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config {Master "/ps7/M_AXI_GP0" Clk "Auto"} [get_bd_intf_pins dma/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config {Slave "/ps7/S_AXI_HP0" Clk "Auto"} [get_bd_intf_pins dma/M_AXI_MM2S]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config {Slave "/ps7/S_AXI_HP0" Clk "Auto"} [get_bd_intf_pins dma/M_AXI_S2MM]

set core_lite [get_bd_intf_pins -quiet core/s_axil]
if {$core_lite ne ""} {
    apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config {Master "/ps7/M_AXI_GP0" Clk "Auto"} $core_lite
}
set core_in [get_bd_intf_pins -quiet core/s_axis]
if {$core_in ne ""} {
    connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] $core_in
}
set core_out [get_bd_intf_pins -quiet core/m_axis]
if {$core_out ne ""} {
    connect_bd_intf_net $core_out [get_bd_intf_pins dma/S_AXIS_S2MM]
}

# The core runs on the fabric clock; its reset is the interconnect's active-high peripheral reset.
connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins core/clk]
set reset_block [lindex [get_bd_cells -filter {VLNV =~ "*proc_sys_reset*"}] 0]
connect_bd_net [get_bd_pins $reset_block/peripheral_reset] [get_bd_pins core/rst]

assign_bd_address
validate_bd_design
save_bd_design

set bd_file [get_files eligo.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top eligo_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "implementation did not finish: see $out_dir/project"
}

# pynq.Overlay("eligo.bit") looks for eligo.hwh beside it.
set run_dir [get_property DIRECTORY [get_runs impl_1]]
file copy -force "$run_dir/eligo_wrapper.bit" "$out_dir/eligo.bit"
set hwh [lindex [glob -nocomplain "$out_dir/project/*.gen/sources_1/bd/eligo/hw_handoff/eligo.hwh" \
                                  "$out_dir/project/*.srcs/sources_1/bd/eligo/hw_handoff/eligo.hwh"] 0]
if {$hwh eq ""} {
    error "eligo.hwh not found under $out_dir/project"
}
file copy -force $hwh "$out_dir/eligo.hwh"
open_run impl_1
report_utilization -file "$out_dir/utilization.rpt"
report_timing_summary -file "$out_dir/timing.rpt"
puts "wrote $out_dir/eligo.bit and $out_dir/eligo.hwh"
